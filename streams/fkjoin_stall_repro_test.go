package streams_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestReproConsumerMissesTheTailWhenEveryRecordHasItsOwnProducer reproduces a stall seen
// while testing the foreign-key join, outside the join code: when each input record is
// produced by its own short-lived client while the App runs, the App's consumer stops
// receiving the last records of its partitions (its committed offsets stay 1-20 records
// below the end for 30s and more), while a new consumer reads them at once from the committed
// offset. kgo's hooks show that the App's consumer never buffers the missing records: its
// fetches, to the same broker, come back without them. It also happens with
// kgo.DisableFetchSessions. A plain Stream→To topology with the same production did not show
// it; main at df51cf2 still does. Run with
// GREGOR_REPRO_CONSUMER_STALL=1; it takes about a minute and logs offsets on failure.
func TestReproConsumerMissesTheTailWhenEveryRecordHasItsOwnProducer(t *testing.T) {
	if os.Getenv("GREGOR_REPRO_CONSUMER_STALL") == "" {
		t.Skip("reproduction of an open consumer stall: set GREGOR_REPRO_CONSUMER_STALL=1")
	}
	tb := testbroker.Start(t)
	hk := &batchHook{last: map[string]int64{}}

	addr := tb.Addr()
	createTopic(t, addr, "orders", 3)
	createTopic(t, addr, "products", 2)
	createTopic(t, addr, "lines", 2)
	createTopic(t, addr, "lines-left", 2)
	productOf := func(order string) string { return strings.SplitN(order, ":", 2)[0] }
	b := streams.NewBuilder()
	orders := streams.Table(b, "orders", statestore.String{}, statestore.String{})
	products := streams.Table(b, "products", statestore.String{}, statestore.String{})
	streams.JoinFK(orders, products, productOf, func(o, p string) string { return o + "/" + p }, statestore.String{}).
		ToStream().To("lines", nil, nil)
	streams.LeftJoinFK(orders, products, productOf, func(o string, p *string) string { return o + "/" + orName(p) }, statestore.String{}).
		ToStream().To("lines-left", nil, nil)
	app := startApp(t, build(t, b), streams.Config{ApplicationID: "fkc", BootstrapServers: []string{addr}, StateDir: t.TempDir(), ClientOptions: []kgo.Opt{kgo.WithHooks(hk)}})

	rng := rand.New(rand.NewPCG(1, 2))
	orderRows, productRows := map[string]string{}, map[string]string{}
	var batch []kv
	var topics []string
	for i := range 1200 {
		if rng.IntN(3) == 0 {
			p := fmt.Sprintf("p%d", rng.IntN(12))
			if rng.IntN(6) == 0 {
				delete(productRows, p)
				batch, topics = append(batch, del(p)), append(topics, "products")
			} else {
				productRows[p] = fmt.Sprintf("v%d", i)
				batch, topics = append(batch, put(p, productRows[p])), append(topics, "products")
			}
			continue
		}
		o := fmt.Sprintf("o%d", rng.IntN(60))
		if rng.IntN(8) == 0 {
			delete(orderRows, o)
			batch, topics = append(batch, del(o)), append(topics, "orders")
		} else {
			orderRows[o] = fmt.Sprintf("p%d:%d", rng.IntN(12), i)
			batch, topics = append(batch, put(o, orderRows[o])), append(topics, "orders")
		}
	}
	for i := range batch {
		produceKV(t, addr, topics[i], batch[i])
	}
	t.Log("produced all at", time.Now())
	// The final join, per order; an order without a result may have no record or a tombstone.
	inner, left := map[string]string{}, map[string]string{}
	for o, row := range orderRows {
		p, ok := productRows[productOf(row)]
		left[o] = row + "/" + orName(ptrIf(p, ok))
		if ok {
			inner[o] = row + "/" + p
		}
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		adm := kadm.NewClient(client(t, addr))
		committed, err := adm.FetchOffsets(context.Background(), "fkc")
		if err != nil {
			t.Logf("fetch committed offsets: %v", err)
		}
		committed.Each(func(o kadm.OffsetResponse) { t.Logf("committed %s/%d = %d", o.Topic, o.Partition, o.At) })
		ends, _ := adm.ListEndOffsets(context.Background(), "orders", "products")
		ends.Each(func(o kadm.ListedOffset) { t.Logf("end %s/%d = %d", o.Topic, o.Partition, o.Offset) })
		t.Logf("stats %+v", app.Stats())
		hk.mu.Lock()
		t.Logf("kgo buffered up to %v; unbuffered up to %v; dropped %d", hk.last, hk.unbuf, hk.dropped)
		hk.mu.Unlock()
		// A consumer started now reads the tail from the committed offset at once.
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Topic != "orders" && o.Topic != "products" {
				return
			}
			fc := client(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.Topic: {o.Partition: kgo.NewOffset().At(o.At)}}))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			f := fc.PollFetches(ctx)
			n := 0
			first := int64(-1)
			f.EachRecord(func(r *kgo.Record) {
				n++
				if first < 0 {
					first = r.Offset
				}
			})
			t.Logf("fresh fetch %s/%d at %d: %d records, first %d, errs %v", o.Topic, o.Partition, o.At, n, first, f.Errors())
		})
	})
	for _, topic := range []string{"lines", "lines-left"} {
		want := map[string]map[string]string{"lines": inner, "lines-left": left}[topic]
		waitLatest(t, app, addr, topic, want)
	}
}

type batchHook struct {
	mu      sync.Mutex
	last    map[string]int64 // highest offset buffered by kgo
	unbuf   map[string]int64 // highest offset unbuffered (polled or dropped)
	dropped int
}

func (h *batchHook) OnFetchRecordBuffered(r *kgo.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
	h.last[k] = max(h.last[k], r.Offset)
}

func (h *batchHook) OnFetchRecordUnbuffered(r *kgo.Record, polled bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
	if h.unbuf == nil {
		h.unbuf = map[string]int64{}
	}
	h.unbuf[k] = max(h.unbuf[k], r.Offset)
	if !polled {
		h.dropped++
	}
}
