package main

import (
	"math"
	"math/bits"
	"time"
)

// latencyHistogram records durations in microseconds in log-linear buckets
// (as HdrHistogram does): values below 128µs are exact and larger ones fall
// into one of 64 buckets per power of two, so a percentile is within 1/64
// (1.6%) of the true value while memory stays a few thousand counters no
// matter how many records a perf run sends. Not safe for concurrent use.
type latencyHistogram struct {
	counts []uint64
	count  uint64
	sumUs  uint64
	maxUs  uint64
}

const (
	histExactBelow  = 128 // values below this have their own bucket
	histSubBuckets  = 64  // buckets per power of two above histExactBelow
	histSubBits     = 7   // bits.Len64(histExactBelow)
	histMaxBuckets  = histExactBelow + (64-histSubBits+1)*histSubBuckets
	microsPerMillis = 1000.0
)

// histBucket returns the bucket index of a value in microseconds.
func histBucket(us uint64) int {
	if us < histExactBelow {
		return int(us)
	}
	shift := bits.Len64(us) - histSubBits // ≥ 1; us>>shift is in [64, 128)
	mantissa := us >> uint(shift)
	return histExactBelow + (shift-1)*histSubBuckets + int(mantissa-histSubBuckets)
}

// histBucketHigh returns the largest value that falls into bucket i.
func histBucketHigh(i int) uint64 {
	if i < histExactBelow {
		return uint64(i)
	}
	shift := (i-histExactBelow)/histSubBuckets + 1
	mantissa := uint64((i-histExactBelow)%histSubBuckets + histSubBuckets)
	return (mantissa+1)<<uint(shift) - 1
}

// record adds one latency; negative durations count as zero.
func (h *latencyHistogram) record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	i := histBucket(us)
	if i >= len(h.counts) {
		grown := make([]uint64, min(max(2*len(h.counts), i+1, 512), histMaxBuckets))
		copy(grown, h.counts)
		h.counts = grown
	}
	h.counts[i]++
	h.count++
	h.sumUs += us
	h.maxUs = max(h.maxUs, us)
}

// merge adds all of other's samples to h.
func (h *latencyHistogram) merge(other *latencyHistogram) {
	if len(other.counts) > len(h.counts) {
		grown := make([]uint64, len(other.counts))
		copy(grown, h.counts)
		h.counts = grown
	}
	for i, c := range other.counts {
		h.counts[i] += c
	}
	h.count += other.count
	h.sumUs += other.sumUs
	h.maxUs = max(h.maxUs, other.maxUs)
}

// percentileMs returns the latency in milliseconds at or below which a
// fraction q (0 < q ≤ 1) of the samples fall, reported as its bucket's upper
// bound but never above the largest sample; 0 with no samples.
func (h *latencyHistogram) percentileMs(q float64) float64 {
	if h.count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.count)))
	rank = min(max(rank, 1), h.count)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return float64(min(histBucketHigh(i), h.maxUs)) / microsPerMillis
		}
	}
	return float64(h.maxUs) / microsPerMillis
}

// avgMs is the mean latency in milliseconds; 0 with no samples.
func (h *latencyHistogram) avgMs() float64 {
	if h.count == 0 {
		return 0
	}
	return float64(h.sumUs) / float64(h.count) / microsPerMillis
}

// maxMs is the largest latency in milliseconds.
func (h *latencyHistogram) maxMs() float64 { return float64(h.maxUs) / microsPerMillis }

// latencySummary is the figures every perf command reports.
type latencySummary struct {
	AvgMs  float64 `json:"avg_latency_ms"`
	MaxMs  float64 `json:"max_latency_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P95Ms  float64 `json:"p95_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
}

func (h *latencyHistogram) summary() latencySummary {
	return latencySummary{
		AvgMs:  h.avgMs(),
		MaxMs:  h.maxMs(),
		P50Ms:  h.percentileMs(0.50),
		P95Ms:  h.percentileMs(0.95),
		P99Ms:  h.percentileMs(0.99),
		P999Ms: h.percentileMs(0.999),
	}
}
