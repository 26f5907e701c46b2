//go:build unix

package connect_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testcluster"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestDistributedWorkerKeepsCopyingThroughABrokerKill runs a distributed worker on three KRaft
// nodes (subprocesses) whose internal topics (configs, offsets, status) and data topic are
// replicated three times, with a FileStreamSource → topic → FileStreamSink copy. Once the first
// lines are copied, the node coordinating the worker group — which also leads some of the
// partitions — is killed with SIGKILL. The worker carries on: its group moves to the new
// coordinator, the connectors and tasks stay RUNNING, and every line appended after the kill
// reaches the output (at least once).
func TestDistributedWorkerKeepsCopyingThroughABrokerKill(t *testing.T) {
	c := testcluster.StartFailover(t)
	// NB: killing the node that is also the active controller is a known failover bug
	// (broker/compat TestKillingTheLeaderAndTheActiveControllerTogether); this test is about the worker.
	group := c.GroupAwayFromController(t, "cluster-copy")
	compacted := map[string]string{"cleanup.policy": "compact", "min.insync.replicas": "2"}
	// NB: a KRaft broker does not forward CreateTopics yet (it refuses RF 3 as a single node
	// would): the topics are created on the controller, and the worker finds them.
	c.MustCreateTopic(t, group+"-configs", 1, 3, compacted)
	c.MustCreateTopic(t, group+"-offsets", 3, 3, compacted)
	c.MustCreateTopic(t, group+"-status", 2, 3, compacted)
	c.MustCreateTopic(t, "copy-lines", 1, 3, map[string]string{"min.insync.replicas": "2"})

	props := map[string]string{
		"bootstrap.servers":                 strings.Join(c.Bootstrap(), ","),
		"listeners":                         "http://127.0.0.1:0",
		"group.id":                          group,
		"config.storage.topic":              group + "-configs",
		"offset.storage.topic":              group + "-offsets",
		"status.storage.topic":              group + "-status",
		"config.storage.replication.factor": "1",
		"offset.storage.replication.factor": "-1",
		"status.storage.replication.factor": "-1",
		"offset.storage.partitions":         "3",
		"status.storage.partitions":         "2",
		"offset.flush.interval.ms":          "200",
		"offset.flush.timeout.ms":           "5000",
		"session.timeout.ms":                "10000",
		"heartbeat.interval.ms":             "300",
		"rebalance.timeout.ms":              "10000",
	}
	var out io.Writer = io.Discard
	if os.Getenv("GREGOR_TEST_LOG") != "" {
		out = os.Stderr
	}
	w, err := connect.RunDistributed(context.Background(), props, connect.Options{Logger: slog.New(slog.NewTextHandler(out, nil))})
	if err != nil {
		t.Fatalf("RunDistributed: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	rest := restOf(t, w)

	dir := t.TempDir()
	in, outFile := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	writeLines(t, in, 0, 100)
	writeRetrying(rest, 201, "POST", "/connectors", mustJSON(map[string]any{"name": "copy-src", "config": map[string]string{
		"connector.class": "FileStreamSource", "file": in, "topic": "copy-lines",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter"}}))
	writeRetrying(rest, 201, "POST", "/connectors", mustJSON(map[string]any{"name": "copy-sink", "config": map[string]string{
		"connector.class": "FileStreamSink", "file": outFile, "topics": "copy-lines",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter"}}))
	copied := func(n int) error {
		seen := map[string]bool{}
		for _, l := range strings.Split(readFile(outFile), "\n") {
			seen[l] = true
		}
		for i := range n {
			if l := fmt.Sprintf("line %04d", i); !seen[l] {
				return fmt.Errorf("%s not copied yet", l)
			}
		}
		return nil
	}
	testutil.CheckFor(t, 60*time.Second, 20*time.Millisecond, func() error { return copied(100) })

	victim := c.GroupCoordinator(t, group)
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	t.Logf("killed node %d (kill -9), the coordinator of worker group %s", victim.ID, group)
	writeLines(t, in, 100, 200)
	testutil.CheckFor(t, 90*time.Second, 50*time.Millisecond, func() error { return copied(200) })
	t.Logf("every line appended after the kill copied %v after it; coordinator now node %d",
		time.Since(killed).Round(time.Millisecond), c.GroupCoordinator(t, group).ID)
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		for _, name := range []string{"copy-src", "copy-sink"} {
			if _, running := workersOf(rest, name); !running {
				return errors.New(name + " and its tasks not all RUNNING")
			}
		}
		return nil
	})
}
