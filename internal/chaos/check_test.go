//go:build unix

package chaos

import (
	"maps"
	"slices"
	"testing"
)

// cleanHistory is a correct run: producers 0 and 1 each write sequences 0..5 alternating over
// partitions 0 and 1, everything is acked, and the reader polled every record once, in order.
func cleanHistory() History {
	var h History
	next := map[int32]int64{}
	for seq := int64(0); seq < 6; seq++ {
		for producer := 0; producer < 2; producer++ {
			p := int32(seq % 2)
			v := Value{Producer: producer, Seq: seq}
			h.Acks = append(h.Acks, Ack{Value: v, Partition: p, Offset: next[p]})
			h.Final = append(h.Final, Read{Partition: p, Offset: next[p], Value: v})
			next[p]++
		}
	}
	h.Polls = slices.Clone(h.Final)
	return h
}

func v(producer int, seq int64) Value { return Value{Producer: producer, Seq: seq} }

// finalIndex returns the index in h.Final of the record at partition p, offset o.
func finalIndex(t *testing.T, reads []Read, p int32, o int64) int {
	t.Helper()
	for i, rd := range reads {
		if rd.Partition == p && rd.Offset == o {
			return i
		}
	}
	t.Fatalf("no read at %d@%d", p, o)
	return -1
}

func TestCheckCountsEachAnomaly(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(t *testing.T, h *History)
		want   map[Anomaly]int
	}{
		{"clean history", func(*testing.T, *History) {}, map[Anomaly]int{}},
		{"acked write missing from the final read", func(t *testing.T, h *History) {
			// The last record of partition 1 was acked, polled, then lost: lost and vanished.
			i := finalIndex(t, h.Final, 1, 5)
			h.Final = slices.Delete(h.Final, i, i+1)
		}, map[Anomaly]int{LostWrite: 1, Vanished: 1}},
		{"acked write lost before anyone read it", func(t *testing.T, h *History) {
			i := finalIndex(t, h.Final, 1, 5)
			h.Final = slices.Delete(h.Final, i, i+1)
			i = finalIndex(t, h.Polls, 1, 5)
			h.Polls = slices.Delete(h.Polls, i, i+1)
		}, map[Anomaly]int{LostWrite: 1, Unseen: 1}},
		{"failed write absent is not lost", func(t *testing.T, h *History) {
			h.Failures = append(h.Failures, Failure{Value: v(0, 99), Partition: 0, Err: "timeout"})
		}, map[Anomaly]int{}},
		{"failed write present is recovered, not an anomaly", func(t *testing.T, h *History) {
			h.Failures = append(h.Failures, Failure{Value: v(0, 6), Partition: 0, Err: "timeout"})
			rd := Read{Partition: 0, Offset: 6, Value: v(0, 6)}
			h.Final = append(h.Final, rd)
			h.Polls = append(h.Polls, rd)
		}, map[Anomaly]int{}},
		{"value written twice", func(t *testing.T, h *History) {
			// A retry appended p1-s0 again at the end of partition 0, after p1-s4.
			rd := Read{Partition: 0, Offset: 6, Value: v(1, 0)}
			h.Final = append(h.Final, rd)
			h.Polls = append(h.Polls, rd)
		}, map[Anomaly]int{Duplicate: 1, InconsistentOffset: 1, Order: 1}},
		{"acked record found at another offset", func(t *testing.T, h *History) {
			// The broker acked p0-s0 at 0@0 but it sits at 0@1 (and p1-s0 at 0@0).
			h.Acks[0].Offset = 1
			h.Acks[1].Offset = 0
		}, map[Anomaly]int{InconsistentOffset: 2}},
		{"one offset held two values", func(t *testing.T, h *History) {
			// The reader saw 0@2 = p0-s2, the final read has p9-s9 there: the log forked.
			i := finalIndex(t, h.Final, 0, 2)
			h.Final[i].Value = v(9, 9)
		}, map[Anomaly]int{DivergentOffset: 1, LostWrite: 1, Vanished: 1}},
		{"producer values out of sequence", func(t *testing.T, h *History) {
			// Swap p0-s2 and p0-s4 in partition 0 (both acked where the final read has them).
			a, b := finalIndex(t, h.Final, 0, 2), finalIndex(t, h.Final, 0, 4)
			h.Final[a].Value, h.Final[b].Value = h.Final[b].Value, h.Final[a].Value
			h.Polls = slices.Clone(h.Final)
			for i := range h.Acks {
				switch h.Acks[i].Value {
				case v(0, 2):
					h.Acks[i].Offset = 4
				case v(0, 4):
					h.Acks[i].Offset = 2
				}
			}
		}, map[Anomaly]int{Order: 1}},
		{"reader went backwards within a session", func(t *testing.T, h *History) {
			h.Polls = append(h.Polls, h.Polls[0])
		}, map[Anomaly]int{NonmonotonicPoll: 1}},
		{"reader restarted from the start in a new session", func(t *testing.T, h *History) {
			again := slices.Clone(h.Polls)
			for i := range again {
				again[i].Session = 1
			}
			h.Polls = append(h.Polls, again...)
		}, map[Anomaly]int{}},
		{"reader skipped a record", func(t *testing.T, h *History) {
			// Partition 0's offset 3 was never polled although the final read has it.
			i := finalIndex(t, h.Polls, 0, 3)
			h.Polls = slices.Delete(h.Polls, i, i+1)
		}, map[Anomaly]int{PollSkip: 1, Unseen: 1}},
		{"reader saw a record the final read lacks", func(t *testing.T, h *History) {
			// An unacked (failed) write was polled at 1@6 and then disappeared.
			h.Failures = append(h.Failures, Failure{Value: v(1, 7), Partition: 1})
			h.Polls = append(h.Polls, Read{Partition: 1, Offset: 6, Value: v(1, 7)})
		}, map[Anomaly]int{Vanished: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := cleanHistory()
			tc.mutate(t, &h)
			r := Check(h)
			got := map[Anomaly]int{}
			for a, n := range r.Counts {
				if n != 0 {
					got[a] = n
				}
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("counts %v, want %v\n%s", got, tc.want, r)
			}
			if r.Total() != sum(tc.want) {
				t.Fatalf("Total() = %d, want %d", r.Total(), sum(tc.want))
			}
		})
	}
}

func sum(m map[Anomaly]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

func TestCheckCountsRecoveredIndeterminateWrites(t *testing.T) {
	h := cleanHistory()
	h.Failures = []Failure{{Value: v(0, 0)}, {Value: v(5, 5)}}
	if r := Check(h); r.Recovered != 1 || r.Failed != 2 || r.Acked != 12 {
		t.Fatalf("recovered %d failed %d acked %d, want 1, 2, 12", r.Recovered, r.Failed, r.Acked)
	}
}

func TestValueRoundTripsThroughItsRecordEncoding(t *testing.T) {
	for _, want := range []Value{v(0, 0), v(3, 1234567890123)} {
		got, err := ParseValue([]byte(want.String()))
		if err != nil || got != want {
			t.Fatalf("ParseValue(%q) = %v, %v", want.String(), got, err)
		}
	}
	for _, bad := range []string{"", "p1", "x1-s2", "p-s2", "p1-sx"} {
		if _, err := ParseValue([]byte(bad)); err == nil {
			t.Fatalf("ParseValue(%q) accepted a malformed value", bad)
		}
	}
}
