//go:build unix

package broker_test

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

// TestCleanStopWith5000PartitionsTakesWellUnder30Seconds: containers are killed 30 s after
// SIGTERM, so a clean stop (which spares the next start a recovery scan) must fit well within.
// It took 16 s for 2,000 partitions when they were closed one after another.
func TestCleanStopWith5000PartitionsTakesWellUnder30Seconds(t *testing.T) {
	const topics, perTopic = 10, 500
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < 2*topics*perTopic {
		t.Skipf("open-file limit %d is too low for %d partitions", rl.Cur, topics*perTopic)
	}
	tb := testbroker.Start(t)
	rc := dialRaw(t, tb.Addr())
	start := time.Now()
	for i := 0; i < topics; i++ {
		createTopicRaw(t, rc, fmt.Sprintf("many-%d", i), perTopic, nil)
	}
	t.Logf("created %d partitions in %v", topics*perTopic, time.Since(start).Round(time.Millisecond))
	// A record in one partition of five, so the stop has data to sync and snapshot.
	for i := 0; i < topics; i++ {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, -1, 30_000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = fmt.Sprintf("many-%d", i)
		for p := int32(0); p < perTopic; p += 5 {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = p, recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("k", "v"))
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		for _, tp := range rc.do(req).(*kmsg.ProduceResponse).Topics[0].Partitions {
			if tp.ErrorCode != 0 {
				t.Fatalf("produce to %s-%d: error %d", rt.Topic, tp.Partition, tp.ErrorCode)
			}
		}
	}
	t.Logf("created and filled in %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	tb.Stop()
	took := time.Since(start)
	t.Logf("stopped in %v", took.Round(time.Millisecond))
	if took > 15*time.Second {
		t.Fatalf("a clean stop with %d partitions took %v, want well under 30 s", topics*perTopic, took)
	}
	// And it was clean: every partition left its clean-shutdown marker, so the next start
	// recovers nothing.
	markers, err := filepath.Glob(filepath.Join(tb.Dir(), "many-*", ".clean-shutdown"))
	if err != nil || len(markers) != topics*perTopic {
		t.Fatalf("%d clean-shutdown markers, want %d (%v)", len(markers), topics*perTopic, err)
	}
}
