package metrics

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/gregor-streams/gregor/broker/metadata"
)

func counterValue(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestObserveImageCountsISRChangesOfPartitionsLedHere: ISR shrinks and expansions are counted for
// partitions this broker (1) leads in the new image, and nothing else is.
func TestObserveImageCountsISRChangesOfPartitionsLedHere(t *testing.T) {
	m := NewBroker(nil)
	p := func(leader int32, isr ...int32) *metadata.Partition {
		return &metadata.Partition{Leader: leader, Replicas: []int32{1, 2, 3}, Isr: isr}
	}
	m.ObserveImage(1, &metadata.Changes{Partitions: []metadata.PartitionChange{
		{TopicName: "a", Partition: 0, Prev: p(1, 1, 2, 3), Cur: p(1, 1, 2)},    // shrink
		{TopicName: "a", Partition: 1, Prev: p(1, 1, 2), Cur: p(1, 1, 2, 3)},    // expand
		{TopicName: "a", Partition: 2, Prev: p(1, 1, 2), Cur: p(1, 1, 3)},       // both: 2 out, 3 in
		{TopicName: "a", Partition: 3, Prev: p(2, 1, 2, 3), Cur: p(2, 2, 3)},    // led elsewhere
		{TopicName: "a", Partition: 4, Prev: nil, Cur: p(1, 1, 2, 3)},           // new partition
		{TopicName: "a", Partition: 5, Prev: p(1, 1, 2, 3), Cur: p(1, 1, 2, 3)}, // unchanged ISR
	}})
	if got := counterValue(t, m.isrShrinks); got != 2 {
		t.Errorf("ISR shrinks = %v, want 2", got)
	}
	if got := counterValue(t, m.isrExpands); got != 2 {
		t.Errorf("ISR expands = %v, want 2", got)
	}
	var nilMetrics *Broker
	nilMetrics.ObserveImage(1, &metadata.Changes{}) // metrics off: no panic
}
