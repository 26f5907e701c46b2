package broker_test

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/config"
)

// kraftConfig is node 1 of a three-node combined (broker,controller) cluster on dir.
func kraftConfig(t *testing.T, dir string) *config.Broker {
	t.Helper()
	cfg, _, err := config.Load("", []string{
		"process.roles=broker,controller", "node.id=1", "log.dirs=" + dir,
		"controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097",
		"listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0", "controller.listener.names=CONTROLLER",
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestMultiNodeConfigOnAnUnformattedDirIsRefused: a KRaft node of a three-node cluster does not start
// on a log dir without meta.properties, and says which command formats it; once formatted, it takes
// the cluster ID from meta.properties.
func TestMultiNodeConfigOnAnUnformattedDirIsRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := kraftConfig(t, dir)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, err := broker.New(cfg, broker.Options{Logger: logger})
	if !errors.Is(err, config.ErrNotFormatted) || !strings.Contains(err.Error(), "gregor storage format") {
		t.Fatalf("New on an unformatted dir: %v", err)
	}
	id := config.RandomClusterID()
	if err := config.WriteMetaProperties(dir, config.MetaProperties{ClusterID: id, NodeID: 1}); err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(cfg, broker.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.ClusterID() != id {
		t.Fatalf("cluster ID %q, meta.properties has %q", b.ClusterID(), id)
	}
}
