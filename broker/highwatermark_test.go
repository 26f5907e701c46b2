package broker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// fetchRecordsRaw fetches partition 0 of topic from offset without waiting and returns its high
// watermark and how many record bytes came back.
func fetchRecordsRaw(t *testing.T, rc *rawConn, topic string, offset int64) (int64, int) {
	t.Helper()
	req := longPollRequest(topic, offset, 0)
	req.MinBytes = 0
	p := rc.do(req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	mustOK(t, "fetch "+topic, p.ErrorCode, nil)
	return p.HighWatermark, len(p.RecordBatches)
}

// The high watermark survives a restart: records acknowledged with acks=1 while the ISR is below
// min.insync.replicas (KIP-966: the high watermark does not move) stay unreadable after a clean
// stop and start, while committed records stay readable.
func TestHighWatermarkIsCheckpointedOnCleanStopAndRestored(t *testing.T) {
	tb := testbroker.Start(t)
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "uncommitted", 1, map[string]string{"min.insync.replicas": "2"})
	createTopicRaw(t, rc, "committed", 1, nil)
	for i := 0; i < 3; i++ {
		for _, topic := range []string{"uncommitted", "committed"} {
			sp := produceRaw(t, rc, topic, 1, recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("k", fmt.Sprint(i))))
			mustOK(t, "produce to "+topic, sp.ErrorCode, sp.ErrorMessage)
		}
	}
	check := func(when string) {
		t.Helper()
		if hw, n := fetchRecordsRaw(t, rc, "uncommitted", 0); hw != 0 || n != 0 {
			t.Fatalf("%s: uncommitted records are readable: high watermark %d, %d bytes", when, hw, n)
		}
		if hw, n := fetchRecordsRaw(t, rc, "committed", 0); hw != 3 || n == 0 {
			t.Fatalf("%s: committed records: high watermark %d, %d bytes", when, hw, n)
		}
	}
	check("before the restart")

	tb.Stop()
	data, err := os.ReadFile(filepath.Join(tb.Dir(), "replication-offset-checkpoint"))
	if err != nil {
		t.Fatalf("no high watermark checkpoint after a clean stop: %v", err)
	}
	for _, want := range []string{"\ncommitted 0 3\n", "\nuncommitted 0 0\n"} {
		if !strings.Contains(string(data), want) {
			t.Fatalf("checkpoint %q lacks %q", data, want)
		}
	}
	if !strings.HasPrefix(string(data), "0\n") {
		t.Fatalf("checkpoint %q does not start with version 0", data)
	}

	tb.StartStopped()
	rc = dialRaw(t, tb.Addr())
	check("after the restart")
}

// The checkpoint is also written periodically (replica.high.watermark.checkpoint.interval.ms), so
// a broker that crashes restores a recent high watermark.
func TestHighWatermarkIsCheckpointedPeriodically(t *testing.T) {
	tb := testbroker.Start(t, testbroker.Set("replica.high.watermark.checkpoint.interval.ms", "20"))
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "periodic", 1, nil)
	for i := 0; i < 5; i++ {
		sp := produceRaw(t, rc, "periodic", -1, recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("k", "v")))
		mustOK(t, "produce", sp.ErrorCode, sp.ErrorMessage)
	}
	name := filepath.Join(tb.Dir(), "replication-offset-checkpoint")
	testutil.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		if !strings.Contains(string(data), "\nperiodic 0 5\n") {
			return fmt.Errorf("checkpoint %q lacks periodic 0 5", data)
		}
		return nil
	})
}

// A corrupt high watermark checkpoint refuses the start with an error naming the file, rather
// than serving with high watermarks it cannot trust.
func TestCorruptHighWatermarkCheckpointRefusesTheStartNamingIt(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "replication-offset-checkpoint")
	if err := os.WriteFile(name, []byte("0\n2\nt 0 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := openBroker(dir)
	if err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("start with a corrupt checkpoint: %v, want an error naming %s", err, name)
	}
	// The dir lock was released: once the file is fixed, the broker starts.
	if err := os.WriteFile(name, []byte("0\n1\nt 0 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := openBroker(dir); err != nil {
		t.Fatalf("start with a valid checkpoint: %v", err)
	}
}
