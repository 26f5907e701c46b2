package connect

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// WorkerConfig is a standalone worker's configuration, from Kafka's worker property names.
type WorkerConfig struct {
	// BootstrapServers is bootstrap.servers.
	BootstrapServers []string
	// Listeners is listeners (default http://127.0.0.1:8083).
	Listeners string
	// KeyConverter and ValueConverter are key.converter and value.converter with their
	// prefixed settings (key.converter.schemas.enable → schemas.enable).
	KeyConverter, ValueConverter             string
	KeyConverterConfig, ValueConverterConfig map[string]string
	// OffsetStorageFile is offset.storage.file.filename (standalone).
	OffsetStorageFile string
	// OffsetFlushInterval is offset.flush.interval.ms (default 60s).
	OffsetFlushInterval time.Duration
	// OffsetFlushTimeout is offset.flush.timeout.ms (default 5s).
	OffsetFlushTimeout time.Duration
	// ConsumerSessionTimeout is consumer.session.timeout.ms, the sink consumers' group session
	// timeout (0: the client's default, 45s as Kafka's): how long a crashed worker's sink tasks keep
	// their partitions before the group moves them.
	ConsumerSessionTimeout time.Duration
	// ConsumerMetadataMaxAge is consumer.metadata.max.age.ms (0: the client's default, 5 min as
	// Kafka's): how often sink consumers refresh metadata, so how soon a topics.regex sink sees a
	// topic created after it started.
	ConsumerMetadataMaxAge time.Duration
	// Props are all the properties as given.
	Props map[string]string
}

// ParseWorkerConfig reads a standalone worker's properties. Missing bootstrap.servers or
// offset.storage.file.filename (standalone) are errors naming the key.
func ParseWorkerConfig(props map[string]string) (WorkerConfig, error) {
	c, err := parseCommonWorkerConfig(props)
	if err != nil {
		return c, err
	}
	c.OffsetStorageFile = strings.TrimSpace(props["offset.storage.file.filename"])
	if c.OffsetStorageFile == "" {
		return c, fmt.Errorf("%w: offset.storage.file.filename is required in standalone mode", ErrInvalidConfig)
	}
	return c, nil
}

// parseCommonWorkerConfig reads the properties standalone and distributed workers share.
func parseCommonWorkerConfig(props map[string]string) (WorkerConfig, error) {
	c := WorkerConfig{
		Listeners:           "http://127.0.0.1:8083",
		KeyConverter:        JSONConverterClass,
		ValueConverter:      JSONConverterClass,
		OffsetFlushInterval: 60 * time.Second,
		OffsetFlushTimeout:  5 * time.Second,
		Props:               props,
	}
	bs := strings.TrimSpace(props["bootstrap.servers"])
	if bs == "" {
		bs = "localhost:9092" // Kafka's default
	}
	for _, s := range strings.Split(bs, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.BootstrapServers = append(c.BootstrapServers, s)
		}
	}
	if v := strings.TrimSpace(props["listeners"]); v != "" {
		c.Listeners = v
	}
	if v := strings.TrimSpace(props["key.converter"]); v != "" {
		c.KeyConverter = v
	}
	if v := strings.TrimSpace(props["value.converter"]); v != "" {
		c.ValueConverter = v
	}
	c.KeyConverterConfig = withPrefix(props, "key.converter.")
	c.ValueConverterConfig = withPrefix(props, "value.converter.")
	for _, conv := range []struct{ key, class string }{{"key.converter", c.KeyConverter}, {"value.converter", c.ValueConverter}} {
		if _, err := NewConverter(conv.class, nil, false); err != nil {
			return c, fmt.Errorf("%w: %s: %v", ErrInvalidConfig, conv.key, err)
		}
	}
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{{"offset.flush.interval.ms", &c.OffsetFlushInterval}, {"offset.flush.timeout.ms", &c.OffsetFlushTimeout}, {"consumer.session.timeout.ms", &c.ConsumerSessionTimeout}, {"consumer.metadata.max.age.ms", &c.ConsumerMetadataMaxAge}} {
		if v, ok := props[d.key]; ok {
			ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || ms <= 0 {
				return c, fmt.Errorf("%w: %s: %q is not a positive number of milliseconds", ErrInvalidConfig, d.key, v)
			}
			*d.dst = time.Duration(ms) * time.Millisecond
		}
	}
	return c, nil
}

// withPrefix returns the entries of m under prefix, with the prefix removed.
func withPrefix(m map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}
