//go:build unix

package chaos

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Anomaly names one kind of safety violation Check counts (Jepsen's names where Jepsen has one).
type Anomaly string

// The anomalies Check counts, in the order Result prints them.
const (
	// LostWrite: an acknowledged write is absent from the final read.
	LostWrite Anomaly = "lost-write"
	// Duplicate: one value was read at two or more offsets.
	Duplicate Anomaly = "duplicate"
	// InconsistentOffset: an acknowledged write was read at an offset other than the acknowledged one.
	InconsistentOffset Anomaly = "inconsistent-offsets"
	// DivergentOffset: one offset of a partition held different values in different reads (what
	// Jepsen's Kafka checker calls inconsistent offsets: the log forked).
	DivergentOffset Anomaly = "divergent-offsets"
	// Order: a producer's values appear out of sequence in a partition of the final read.
	Order Anomaly = "order"
	// NonmonotonicPoll: within one reader session, a partition's offsets did not rise.
	NonmonotonicPoll Anomaly = "nonmonotonic-poll"
	// PollSkip: within one reader session, a poll jumped over offsets the final read has.
	PollSkip Anomaly = "poll-skip"
	// Vanished: the reader saw a value the final read does not have.
	Vanished Anomaly = "vanished"
	// Unseen: an acknowledged write the reader never polled, although it was given time to catch up.
	Unseen Anomaly = "unseen"
)

// Anomalies lists every anomaly kind in print order.
var Anomalies = []Anomaly{LostWrite, Duplicate, InconsistentOffset, DivergentOffset, Order, NonmonotonicPoll, PollSkip, Vanished, Unseen}

// maxExamples bounds the examples a Result keeps per anomaly.
const maxExamples = 5

// Result is what Check found: a count per anomaly, a few examples of each, and the history's size.
type Result struct {
	Counts   map[Anomaly]int
	Examples map[Anomaly][]string
	// Acked, Failed, Polled and FinalRead count the history's writes and reads; Recovered counts
	// failed (indeterminate) writes that the final read has anyway, which is allowed.
	Acked, Failed, Polled, FinalRead, Recovered int
}

// Total is the number of anomalies of every kind; a safe run has 0.
func (r Result) Total() int {
	n := 0
	for _, c := range r.Counts {
		n += c
	}
	return n
}

// String prints the history's size, then one line per anomaly kind with its count and examples.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "history: %d acked, %d failed (%d of them in the final read), %d polled, %d in the final read\n",
		r.Acked, r.Failed, r.Recovered, r.Polled, r.FinalRead)
	for _, a := range Anomalies {
		fmt.Fprintf(&b, "  %-21s %d\n", a, r.Counts[a])
		for _, e := range r.Examples[a] {
			fmt.Fprintf(&b, "      e.g. %s\n", e)
		}
	}
	return b.String()
}

func (r *Result) add(a Anomaly, format string, args ...any) {
	r.Counts[a]++
	if len(r.Examples[a]) < maxExamples {
		r.Examples[a] = append(r.Examples[a], fmt.Sprintf(format, args...))
	}
}

// position is a record's place in the log.
type position struct {
	partition int32
	offset    int64
}

func (p position) String() string { return fmt.Sprintf("%d@%d", p.partition, p.offset) }

// Check counts the anomalies of h. It is a pure function: h is only read. Final must hold the
// final read of every partition; Polls must be in the order the reader saw them.
func Check(h History) Result {
	r := Result{
		Counts:   map[Anomaly]int{},
		Examples: map[Anomaly][]string{},
		Acked:    len(h.Acks), Failed: len(h.Failures), Polled: len(h.Polls), FinalRead: len(h.Final),
	}
	// Where the final read has each value, and each partition's offsets in order.
	inFinal := map[Value]bool{}
	finalOffsets := map[int32][]int64{}
	for _, rd := range h.Final {
		inFinal[rd.Value] = true
		finalOffsets[rd.Partition] = append(finalOffsets[rd.Partition], rd.Offset)
	}
	for p, offs := range finalOffsets {
		slices.Sort(offs)
		finalOffsets[p] = slices.Compact(offs)
	}
	for _, f := range h.Failures {
		if inFinal[f.Value] {
			r.Recovered++
		}
	}

	// Every position each value was read at, and every value each position held, over all reads.
	positionsOf := map[Value][]position{}
	valueAt := map[position]Value{}
	divergent := map[position]bool{}
	for _, rd := range append(slices.Clip(h.Final), h.Polls...) {
		pos := position{rd.Partition, rd.Offset}
		if !slices.Contains(positionsOf[rd.Value], pos) {
			positionsOf[rd.Value] = append(positionsOf[rd.Value], pos)
		}
		if v, ok := valueAt[pos]; !ok {
			valueAt[pos] = rd.Value
		} else if v != rd.Value && !divergent[pos] {
			divergent[pos] = true
			r.add(DivergentOffset, "offset %s held %s and %s", pos, v, rd.Value)
		}
	}
	for _, v := range sortedValues(positionsOf) {
		if ps := positionsOf[v]; len(ps) > 1 {
			r.add(Duplicate, "%s read at %v", v, ps)
		}
	}

	polled := map[Value]bool{}
	for _, rd := range h.Polls {
		polled[rd.Value] = true
	}
	for _, a := range h.Acks {
		acked := position{a.Partition, a.Offset}
		if !inFinal[a.Value] {
			at := "nothing"
			if v, ok := valueAt[acked]; ok {
				at = v.String()
			}
			r.add(LostWrite, "%s acked at %s, absent from the final read (which has %s there)", a.Value, acked, at)
		}
		for _, p := range positionsOf[a.Value] {
			if p != acked {
				r.add(InconsistentOffset, "%s acked at %s, read at %s", a.Value, acked, p)
				break
			}
		}
		if !polled[a.Value] {
			r.add(Unseen, "%s acked at %s, never polled", a.Value, acked)
		}
	}

	checkOrder(&r, h.Final)
	checkPolls(&r, h.Polls, finalOffsets)

	vanished := map[Value]bool{}
	for _, rd := range h.Polls {
		if !inFinal[rd.Value] && !vanished[rd.Value] {
			vanished[rd.Value] = true
			r.add(Vanished, "%s polled at %d@%d, absent from the final read", rd.Value, rd.Partition, rd.Offset)
		}
	}
	return r
}

// checkOrder counts, per partition of the final read taken in offset order, each value whose
// producer had already written a higher sequence earlier in that partition.
func checkOrder(r *Result, final []Read) {
	byOffset := slices.Clone(final)
	slices.SortStableFunc(byOffset, func(a, b Read) int {
		if a.Partition != b.Partition {
			return int(a.Partition) - int(b.Partition)
		}
		return cmp.Compare(a.Offset, b.Offset)
	})
	type key struct {
		partition int32
		producer  int
	}
	last := map[key]Read{}
	for _, rd := range byOffset {
		k := key{rd.Partition, rd.Value.Producer}
		if prev, ok := last[k]; ok && rd.Value.Seq < prev.Value.Seq {
			r.add(Order, "partition %d: %s at offset %d after %s at offset %d", rd.Partition, rd.Value, rd.Offset, prev.Value, prev.Offset)
			continue // keep the highest sequence as the reference
		}
		last[k] = rd
	}
}

// checkPolls counts, within each reader session and partition, offsets that did not rise
// (nonmonotonic) and jumps over offsets that the final read has (skips).
func checkPolls(r *Result, polls []Read, finalOffsets map[int32][]int64) {
	type key struct {
		session   int
		partition int32
	}
	last := map[key]int64{}
	for _, rd := range polls {
		k := key{rd.Session, rd.Partition}
		prev, ok := last[k]
		last[k] = rd.Offset
		if !ok {
			continue
		}
		if rd.Offset <= prev {
			r.add(NonmonotonicPoll, "session %d partition %d: offset %d after %d", rd.Session, rd.Partition, rd.Offset, prev)
			continue
		}
		offs := finalOffsets[rd.Partition]
		lo, _ := slices.BinarySearch(offs, prev+1)
		hi, _ := slices.BinarySearch(offs, rd.Offset)
		if hi > lo {
			r.add(PollSkip, "session %d partition %d: offset %d after %d, skipping %d record(s) the final read has", rd.Session, rd.Partition, rd.Offset, prev, hi-lo)
		}
	}
}

func sortedValues(m map[Value][]position) []Value {
	vs := make([]Value, 0, len(m))
	for v := range m {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(a, b Value) int {
		if a.Producer != b.Producer {
			return a.Producer - b.Producer
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	return vs
}
