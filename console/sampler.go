package console

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// point is one value of a time series: T in Unix ms.
type point struct {
	T int64   `json:"t"`
	V float64 `json:"v"`
}

// offsetSample is the cluster's end offsets at one time, summed per topic.
type offsetSample struct {
	at   time.Time
	ends map[string]int64
}

// lagSample is a group's lag at one time: total and per "topic/partition".
type lagSample struct {
	at    time.Time
	total int64
	parts map[string]int64
}

// sampler keeps short ring buffers of end offsets (throughput) and group lag (lag charts).
type sampler struct {
	size int
	mu   struct {
		sync.Mutex
		offsets []offsetSample         // oldest first, at most size
		lags    map[string][]lagSample // per group, oldest first
	}
}

func newSampler(size int) *sampler {
	sp := &sampler{size: size}
	sp.mu.lags = map[string][]lagSample{}
	return sp
}

// sampleLoop samples every SampleInterval until ctx is done. A failed sample (cluster down) is
// skipped: the charts show a gap, the next tick tries again.
func (s *Server) sampleLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.SampleInterval)
	defer t.Stop()
	for {
		s.sampleOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) sampleOnce(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	now := time.Now()
	ends, err := s.adm.ListEndOffsets(ctx)
	if err == nil {
		sums := map[string]int64{}
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				sums[o.Topic] += o.Offset
			}
		})
		s.sampler.addOffsets(offsetSample{at: now, ends: sums})
	}
	groups, err := s.adm.ListGroups(ctx)
	if err != nil || len(groups) == 0 {
		return
	}
	lags, err := s.adm.Lag(ctx, groups.Groups()...)
	if err != nil {
		return
	}
	for g, l := range lags {
		if l.Error() != nil {
			continue
		}
		s.sampler.addLag(g, lagSampleOf(now, l.Lag))
	}
}

func lagSampleOf(at time.Time, gl kadm.GroupLag) lagSample {
	ls := lagSample{at: at, parts: map[string]int64{}}
	for _, ps := range gl {
		for _, p := range ps {
			if p.Lag >= 0 {
				ls.total += p.Lag
				ls.parts[p.Topic+"/"+itoa32(p.Partition)] = p.Lag
			}
		}
	}
	return ls
}

func (sp *sampler) addOffsets(o offsetSample) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.mu.offsets = append(sp.mu.offsets, o)
	if len(sp.mu.offsets) > sp.size {
		sp.mu.offsets = append(sp.mu.offsets[:0:0], sp.mu.offsets[len(sp.mu.offsets)-sp.size:]...)
	}
}

func (sp *sampler) addLag(group string, l lagSample) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	h := append(sp.mu.lags[group], l)
	if len(h) > sp.size {
		h = append(h[:0:0], h[len(h)-sp.size:]...)
	}
	sp.mu.lags[group] = h
}

// topicRates returns records/s between consecutive samples: for every topic when topics is nil,
// else for those named; "" is the whole cluster.
func (sp *sampler) topicRates(topics map[string]bool) map[string][]point {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	out := map[string][]point{"": {}}
	for i := 1; i < len(sp.mu.offsets); i++ {
		prev, cur := sp.mu.offsets[i-1], sp.mu.offsets[i]
		dt := cur.at.Sub(prev.at).Seconds()
		if dt <= 0 {
			continue
		}
		var total float64
		for t, end := range cur.ends {
			d := float64(end - prev.ends[t])
			if d < 0 { // deleted and recreated, or truncated
				d = 0
			}
			total += d / dt
			if topics == nil || topics[t] {
				out[t] = append(out[t], point{T: cur.at.UnixMilli(), V: d / dt})
			}
		}
		out[""] = append(out[""], point{T: cur.at.UnixMilli(), V: total})
	}
	return out
}

// topTopics returns the n topics with the highest latest rate, among those that had any
// traffic in the samples.
func topTopics(rates map[string][]point, n int) []string {
	names := []string{}
	for t, ps := range rates {
		if t != "" && slices.ContainsFunc(ps, func(p point) bool { return p.V > 0 }) {
			names = append(names, t)
		}
	}
	last := func(t string) float64 { ps := rates[t]; return ps[len(ps)-1].V }
	sort.Slice(names, func(i, j int) bool {
		if last(names[i]) != last(names[j]) {
			return last(names[i]) > last(names[j])
		}
		return names[i] < names[j]
	})
	if len(names) > n {
		names = names[:n]
	}
	return names
}

// lagHistory returns a group's total lag over time, and per partition ("topic/partition").
func (sp *sampler) lagHistory(group string) ([]point, map[string][]point) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	total := []point{}
	parts := map[string][]point{}
	for _, l := range sp.mu.lags[group] {
		ms := l.at.UnixMilli()
		total = append(total, point{T: ms, V: float64(l.total)})
		for p, v := range l.parts {
			parts[p] = append(parts[p], point{T: ms, V: float64(v)})
		}
	}
	return total, parts
}
