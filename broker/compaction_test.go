package broker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

// consumeUpTo reads a partition-0 topic from the start up to (excluding) end with a fresh client.
func consumeUpTo(t *testing.T, addr, topic string, end int64) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) == 0 || out[len(out)-1].Offset < end-1 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records, never reached offset %d", len(out), end-1)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func TestCompactedTopicConsumerSeesLatestValuePerKey(t *testing.T) {
	tb := testbroker.Start(t, testbroker.Set("log.cleaner.backoff.ms", "50"))
	const topic, keys, rounds = "compacted-latest", 20, 50
	createTopic(t, tb.Addr(), topic, 1, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"),
		"segment.bytes":  kadm.StringPtr("1024"),
		"segment.ms":     kadm.StringPtr("100"),
	})
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	ctx := context.Background()
	latest := map[string]string{}
	for r := 0; r < rounds; r++ {
		var recs []*kgo.Record
		for k := 0; k < keys; k++ {
			key, val := fmt.Sprintf("key-%d", k), fmt.Sprintf("value-%d-%d", k, r)
			recs = append(recs, &kgo.Record{Key: []byte(key), Value: []byte(val)})
			latest[key] = val
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	// A record larger than segment.bytes (even compressed) rolls the segment, so every update is
	// in a closed one.
	rng := rand.New(rand.NewPCG(1, 2))
	sentinel := make([]byte, 2048)
	for i := range sentinel {
		sentinel[i] = byte('a' + rng.IntN(26))
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("sentinel"), Value: sentinel}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	latest["sentinel"] = string(sentinel)
	const end = keys*rounds + 1

	deadline := time.Now().Add(20 * time.Second)
	for {
		recs := consumeUpTo(t, tb.Addr(), topic, end)
		seen := map[string]string{}
		for i, r := range recs {
			if i > 0 && r.Offset <= recs[i-1].Offset {
				t.Fatalf("offset %d after %d", r.Offset, recs[i-1].Offset)
			}
			seen[string(r.Key)] = string(r.Value)
		}
		for k, v := range latest {
			if seen[k] != v {
				t.Fatalf("key %s: latest value seen %q, want %q", k, seen[k], v)
			}
		}
		if len(recs) == len(latest) {
			return // compacted: one record per key, each the latest
		}
		if time.Now().After(deadline) {
			ents, _ := os.ReadDir(filepath.Join(tb.Dir(), topic+"-0"))
			for _, e := range ents {
				fi, _ := e.Info()
				t.Logf("%s %d", e.Name(), fi.Size())
			}
			t.Fatalf("still %d records for %d keys after 20 s", len(recs), len(latest))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCompaction100kUpdatesOver1kKeys is the acceptance scenario end to end: 100,000
// updates over 1,000 keys, then tombstones for 100 keys; once the cleaner has run, a consumer from
// the start sees exactly the 900 live keys with their newest values (plus the tombstones, which
// delete.retention.ms keeps), in increasing offsets. A restart in between must change nothing.
func TestCompaction100kUpdatesOver1kKeys(t *testing.T) {
	tb := testbroker.Start(t, testbroker.Set("log.cleaner.backoff.ms", "50"))
	const topic = "compacted-100k"
	createTopic(t, tb.Addr(), topic, 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.bytes":             kadm.StringPtr("65536"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	})
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx := context.Background()
	latest := map[string]*string{}
	var recs []*kgo.Record
	for i := 0; i < 100_000; i++ {
		key, val := fmt.Sprintf("key-%04d", i%1000), fmt.Sprintf("value-%06d", i)
		recs = append(recs, &kgo.Record{Key: []byte(key), Value: []byte(val)})
		latest[key] = &val
	}
	for k := 0; k < 100; k++ {
		key := fmt.Sprintf("key-%04d", k*10)
		recs = append(recs, &kgo.Record{Key: []byte(key)}) // tombstone
		latest[key] = nil
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Roll the active segment (the cleaner never touches it) with one large record.
	big := make([]byte, 70_000)
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("roller"), Value: big}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	const end = 100_000 + 100 + 1

	check := func() (records int, ok bool) {
		got := consumeUpTo(t, tb.Addr(), topic, end)
		seen := map[string]*kgo.Record{}
		for i, r := range got {
			if i > 0 && r.Offset <= got[i-1].Offset {
				t.Fatalf("offset %d after %d", r.Offset, got[i-1].Offset)
			}
			seen[string(r.Key)] = r
		}
		for k, v := range latest {
			r := seen[k]
			switch {
			case r == nil:
				t.Fatalf("key %s lost", k)
			case v == nil && r.Value != nil:
				t.Fatalf("key %s: %q after its tombstone", k, r.Value)
			case v != nil && string(r.Value) != *v:
				t.Fatalf("key %s: %q, want the newest %q", k, r.Value, *v)
			}
		}
		return len(got), len(got) == 1000+1 // 900 live + 100 tombstones + the roller
	}
	deadline := time.Now().Add(30 * time.Second)
	restarted := false
	for {
		n, done := check()
		if done {
			if restarted {
				return
			}
			tb.Restart() // the compacted log must come back exactly
			restarted = true
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d records for 1,000 keys after 30 s", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
