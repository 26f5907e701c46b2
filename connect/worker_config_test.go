package connect_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
)

func TestWorkerConfigDefaultsAndErrorsNameTheKey(t *testing.T) {
	c, err := connect.ParseWorkerConfig(map[string]string{"offset.storage.file.filename": "/tmp/o", "value.converter.schemas.enable": "false"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listeners != "http://127.0.0.1:8083" || c.OffsetFlushInterval != time.Minute || c.KeyConverter != connect.JSONConverterClass ||
		c.ValueConverterConfig["schemas.enable"] != "false" || c.BootstrapServers[0] != "localhost:9092" {
		t.Fatalf("defaults = %+v", c)
	}
	for props, key := range map[string]string{
		"":                                     "offset.storage.file.filename",
		"offset.flush.interval.ms=soon":        "offset.flush.interval.ms",
		"value.converter=com.example.NotThere": "value.converter",
	} {
		m := map[string]string{"offset.storage.file.filename": "/tmp/o"}
		if props == "" {
			delete(m, "offset.storage.file.filename")
		} else {
			k, v, _ := strings.Cut(props, "=")
			m[k] = v
		}
		_, err := connect.ParseWorkerConfig(m)
		if !errors.Is(err, connect.ErrInvalidConfig) || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: err = %v, want one naming %s", props, err, key)
		}
	}
	if _, err := connect.ListenAddr("https://0.0.0.0:8083"); err == nil {
		t.Error("https listener accepted")
	}
	if a, err := connect.ListenAddr("http://0.0.0.0:8083,http://x:1"); err != nil || a != "0.0.0.0:8083" {
		t.Errorf("ListenAddr = %q, %v", a, err)
	}
}

func TestWorkerConfigConsumerMetadataMaxAgeIsMillisecondsAndErrorsNameTheKey(t *testing.T) {
	c, err := connect.ParseWorkerConfig(map[string]string{"offset.storage.file.filename": "/tmp/o", "consumer.metadata.max.age.ms": "1500"})
	if err != nil || c.ConsumerMetadataMaxAge != 1500*time.Millisecond {
		t.Fatalf("ConsumerMetadataMaxAge = %v, %v; want 1.5s", c.ConsumerMetadataMaxAge, err)
	}
	if c, _ := connect.ParseWorkerConfig(map[string]string{"offset.storage.file.filename": "/tmp/o"}); c.ConsumerMetadataMaxAge != 0 {
		t.Errorf("default ConsumerMetadataMaxAge = %v, want 0 (the client's)", c.ConsumerMetadataMaxAge)
	}
	_, err = connect.ParseWorkerConfig(map[string]string{"offset.storage.file.filename": "/tmp/o", "consumer.metadata.max.age.ms": "often"})
	if !errors.Is(err, connect.ErrInvalidConfig) || !strings.Contains(err.Error(), "consumer.metadata.max.age.ms") {
		t.Errorf("err = %v, want one naming consumer.metadata.max.age.ms", err)
	}
}
