package metrics

import (
	"slices"

	"github.com/gregor-streams/gregor/broker/metadata"
)

// ObserveImage counts the ISR shrinks and expansions in ch of the partitions that broker leads
// (Kafka's IsrShrinksPerSec and IsrExpandsPerSec, counted by the leader). It is a metadata
// Publisher callback: quick, no I/O.
func (m *Broker) ObserveImage(broker int32, ch *metadata.Changes) {
	if m == nil || ch == nil {
		return
	}
	for _, pc := range ch.Partitions {
		if pc.Prev == nil || pc.Cur == nil || pc.Cur.Leader != broker || !pc.IsrChanged() {
			continue
		}
		// NB: a leader change that also rewrites the ISR is counted too, as Kafka's new leader does
		// when it shrinks or expands the ISR it inherited.
		for _, id := range pc.Prev.Isr {
			if !slices.Contains(pc.Cur.Isr, id) {
				m.isrShrinks.Inc()
				break
			}
		}
		for _, id := range pc.Cur.Isr {
			if !slices.Contains(pc.Prev.Isr, id) {
				m.isrExpands.Inc()
				break
			}
		}
	}
}
