package metrics_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/config"
)

// TestBusyMetricsListenerIsAStartError: a metrics.listener address that cannot be bound fails
// Start with an error naming the setting, instead of a broker silently without metrics.
func TestBusyMetricsListenerIsAStartError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg, _, err := config.Load("", []string{"listeners=PLAINTEXT://127.0.0.1:0", "log.dirs=" + t.TempDir(),
		"offsets.topic.num.partitions=1", "metrics.listener=" + busy.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(cfg, broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "metrics.listener") || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("Start with a busy metrics.listener: %v, want an error naming metrics.listener and the address", err)
	}
}
