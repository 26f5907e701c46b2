package broker

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/broker/metadata"
)

// BenchmarkApplierIgnoresUnchangedTopics is what a KRaft broker's image applier pays per committed
// metadata batch that changes one partition's ISR, on an image of 10,000 topics × 3 partitions none
// of which it hosts: it works from the batch's change set, so the cost does not grow with the
// topics the batch leaves alone.
func BenchmarkApplierIgnoresUnchangedTopics(b *testing.B) {
	const topics = 10000
	cfg, _, err := config.Load("", []string{"log.dirs=" + b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	br := &Broker{cfg: cfg, logger: logger, repeats: newRepeatLog(logger, repeatLogEvery, time.Now),
		topics: map[string]*topic{}, byID: map[[16]byte]*topic{}}
	a := &imageApplier{b: br, node: 4, topics: map[metadata.Uuid]*topic{}}
	a.mu.appliedCh = make(chan struct{})

	d := metadata.NewDelta(metadata.Empty())
	replay := func(r metadata.Record) {
		if err := d.Replay(r); err != nil {
			b.Fatal(err)
		}
	}
	for id := int32(1); id <= 3; id++ {
		replay(&metadata.RegisterBrokerRecord{BrokerID: id, BrokerEpoch: int64(id)})
	}
	for t := range topics {
		id := metadata.Uuid{byte(t >> 16), byte(t >> 8), byte(t), 1}
		replay(&metadata.TopicRecord{Name: fmt.Sprintf("topic-%d", t), TopicID: id})
		for p := range 3 {
			replay(&metadata.PartitionRecord{TopicID: id, PartitionID: int32(p), Replicas: []int32{1, 2, 3},
				Isr: []int32{1, 2, 3}, Leader: int32(p + 1)})
		}
	}
	img, ch := d.Apply(0, 1)
	a.apply(metadata.Update{Image: img, Changes: ch})
	if len(br.topics) != topics {
		b.Fatalf("registry holds %d topics, want %d", len(br.topics), topics)
	}
	rec := &metadata.PartitionChangeRecord{TopicID: metadata.Uuid{0, 0, 7, 1}, PartitionID: 1, Isr: []int32{1, 2},
		Leader: metadata.NoLeaderChange, LeaderRecoveryState: -1}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		d := metadata.NewDelta(img)
		if err := d.Replay(rec); err != nil {
			b.Fatal(err)
		}
		next, ch := d.Apply(int64(i+1), 1)
		a.apply(metadata.Update{Image: next, Changes: ch})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
