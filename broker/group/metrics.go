package group

import "sort"

// Summary is one group's state and committed offsets, as the broker's metrics read them.
type Summary struct {
	Group   string
	State   State
	Offsets []CommittedOffset // sorted by topic, then partition
}

// CommittedOffset is one partition's committed offset in a Summary.
type CommittedOffset struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Summaries returns every group's state and committed offsets, sorted by group. It reads only;
// like every Coordinator method it runs on the coordinator's goroutine. The caller owns the result.
func (c *Coordinator) Summaries() []Summary {
	out := make([]Summary, 0, len(c.groups))
	for id, g := range c.groups {
		s := Summary{Group: id, State: g.state}
		for topic, parts := range g.offsets {
			for p, o := range parts {
				s.Offsets = append(s.Offsets, CommittedOffset{Topic: topic, Partition: p, Offset: o.Offset})
			}
		}
		sort.Slice(s.Offsets, func(i, j int) bool {
			a, b := s.Offsets[i], s.Offsets[j]
			return a.Topic < b.Topic || (a.Topic == b.Topic && a.Partition < b.Partition)
		})
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

// StateNames lists every group state's name, in the protocol's order.
func StateNames() []string { return append([]string(nil), stateNames[:]...) }
