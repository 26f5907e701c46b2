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
