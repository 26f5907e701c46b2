package mirror

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// HeartbeatStatus is the newest heartbeat in one heartbeats topic of a cluster: in
// <alias>.heartbeats it has travelled a mirror flow, so its age bounds that flow's replication
// latency (plus up to one emit.heartbeats.interval.seconds).
type HeartbeatStatus struct {
	Topic     string
	Heartbeat Heartbeat
	Age       time.Duration
}

// HeartbeatStatuses reads the newest heartbeat of every heartbeats topic (heartbeats and
// *.heartbeats) on the cluster at seeds, sorted by topic.
func HeartbeatStatuses(ctx context.Context, seeds []string) ([]HeartbeatStatus, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	counts, err := partitionCounts(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("listing topics: %w", err)
	}
	var topics []string
	for t := range counts {
		if t == HeartbeatsTopic || strings.HasSuffix(t, "."+HeartbeatsTopic) {
			topics = append(topics, t)
		}
	}
	slices.Sort(topics)
	if len(topics) == 0 {
		return nil, nil
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing end offsets: %w", err)
	}
	last := map[string]map[int32]kgo.Offset{}
	want := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			if last[o.Topic] == nil {
				last[o.Topic] = map[int32]kgo.Offset{}
			}
			last[o.Topic][o.Partition] = kgo.NewOffset().At(o.Offset - 1)
			want++
		}
	})
	if want == 0 {
		return nil, nil
	}
	reader, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(last))
	if err != nil {
		return nil, err
	}
	defer reader.Close()
	newest := map[string]Heartbeat{}
	for got := 0; got < want && ctx.Err() == nil; {
		fs := reader.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			got++
			if hb, err := DecodeHeartbeat(r.Key, r.Value); err == nil && hb.TimestampMs > newest[r.Topic].TimestampMs {
				newest[r.Topic] = hb
			}
		})
	}
	out := make([]HeartbeatStatus, 0, len(newest))
	for _, t := range topics {
		if hb, ok := newest[t]; ok {
			out = append(out, HeartbeatStatus{Topic: t, Heartbeat: hb, Age: time.Since(time.UnixMilli(hb.TimestampMs))})
		}
	}
	return out, ctx.Err()
}
