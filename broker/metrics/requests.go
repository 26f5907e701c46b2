package metrics

import (
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
)

// maxKeys and maxVersions bound the request counter array; a request outside it (a key or version
// newer than this build knows) is counted under the last slot's API name as version "other".
const (
	maxKeys     = kmsg.MaxKey + 1
	maxVersions = 32
)

// Phases of a request's latency, as Kafka's RequestQueueTimeMs, LocalTimeMs (+RemoteTimeMs),
// ResponseQueueTimeMs, ResponseSendTimeMs and TotalTimeMs.
const (
	phaseQueue = iota
	phaseHandle
	phaseResponseQueue
	phaseSend
	phaseTotal
	numPhases
)

var phaseNames = [numPhases]string{"queue", "handle", "response_queue", "send", "total"}

// latencyBuckets spans a 50 µs in-memory answer to a 30 s long poll or acks=all wait.
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// requestStats counts requests per API key and version and observes their latency. It is the
// server's Observer: RequestDone runs on every connection's write loop, so it takes no lock on
// its common path.
type requestStats struct {
	counts    [maxKeys][maxVersions]atomic.Uint64
	other     atomic.Uint64 // keys or versions beyond the array
	durations *prometheus.HistogramVec
	// byKey caches each key's histogram children, resolved on its first request.
	byKey  [maxKeys]atomic.Pointer[[numPhases]prometheus.Observer]
	errors *prometheus.CounterVec

	requestsDesc *prometheus.Desc
}

func newRequestStats() *requestStats {
	return &requestStats{
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gregor_broker_request_duration_seconds",
			Help:    "Request latency per API and phase: queue (read to handler start, decoding included), handle (the handler, long polls and acks=all waits included), response_queue (waiting behind earlier responses of the connection), send (writing the response) and total.",
			Buckets: latencyBuckets,
		}, []string{"api", "phase"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gregor_broker_request_errors_total",
			Help: "Error codes in responses, per API and Kafka error name (one per failed partition, group or resource of a response).",
		}, []string{"api", "error"}),
		requestsDesc: prometheus.NewDesc("gregor_broker_requests_total",
			"Requests answered (or dropped: acks=0 produce), per API and version.", []string{"api", "version"}, nil),
	}
}

// RequestDone implements server.Observer.
func (s *requestStats) RequestDone(key, version int16, resp kmsg.Response, t server.RequestTimes) {
	if key < 0 || int(key) >= maxKeys || version < 0 || int(version) >= maxVersions {
		s.other.Add(1)
		return
	}
	s.counts[key][version].Add(1)
	h := s.byKey[key].Load()
	if h == nil {
		h = new([numPhases]prometheus.Observer)
		name := kmsg.NameForKey(key)
		for i := range h {
			h[i] = s.durations.WithLabelValues(name, phaseNames[i])
		}
		s.byKey[key].Store(h)
	}
	h[phaseQueue].Observe(t.Started.Sub(t.Received).Seconds())
	h[phaseHandle].Observe(t.Handled.Sub(t.Started).Seconds())
	h[phaseResponseQueue].Observe(t.Dequeued.Sub(t.Handled).Seconds())
	h[phaseSend].Observe(t.Sent.Sub(t.Dequeued).Seconds())
	h[phaseTotal].Observe(t.Sent.Sub(t.Received).Seconds())
	if resp != nil {
		forEachErrorCode(resp, func(code int16) {
			s.errors.WithLabelValues(kmsg.NameForKey(key), errorName(code)).Inc()
		})
	}
}

// Describe implements prometheus.Collector.
func (s *requestStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.requestsDesc
	s.durations.Describe(ch)
	s.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (s *requestStats) Collect(ch chan<- prometheus.Metric) {
	for key := range s.counts {
		for v := range s.counts[key] {
			if n := s.counts[key][v].Load(); n > 0 {
				ch <- prometheus.MustNewConstMetric(s.requestsDesc, prometheus.CounterValue, float64(n),
					kmsg.NameForKey(int16(key)), strconv.Itoa(v))
			}
		}
	}
	if n := s.other.Load(); n > 0 {
		ch <- prometheus.MustNewConstMetric(s.requestsDesc, prometheus.CounterValue, float64(n), "Unknown", "other")
	}
	s.durations.Collect(ch)
	s.errors.Collect(ch)
}

// errorName is Kafka's name for an error code (UNKNOWN_SERVER_ERROR for codes kerr does not know).
func errorName(code int16) string {
	if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return e.Message
	}
	return "UNKNOWN_SERVER_ERROR"
}

// forEachErrorCode calls fn with every non-zero error code in resp. Produce and Fetch, the hot
// APIs, are walked directly; any other response through a per-type plan built by reflection.
func forEachErrorCode(resp kmsg.Response, fn func(int16)) {
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				if c := r.Topics[i].Partitions[j].ErrorCode; c != 0 {
					fn(c)
				}
			}
		}
	case *kmsg.FetchResponse:
		if r.ErrorCode != 0 {
			fn(r.ErrorCode)
		}
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				if c := r.Topics[i].Partitions[j].ErrorCode; c != 0 {
					fn(c)
				}
			}
		}
	default:
		v := reflect.ValueOf(resp)
		if v.Kind() == reflect.Pointer && !v.IsNil() {
			walkErrorCodes(v.Elem(), fn)
		}
	}
}

// errorPlan lists a struct type's fields that are an ErrorCode or lead to one.
type errorPlan struct {
	codes  []int // int16 fields named ErrorCode
	nested []int // struct or slice-of-struct fields whose type holds an ErrorCode
}

var errorPlans sync.Map // reflect.Type -> *errorPlan

func planFor(t reflect.Type) *errorPlan {
	if p, ok := errorPlans.Load(t); ok {
		return p.(*errorPlan)
	}
	p := &errorPlan{}
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16:
			p.codes = append(p.codes, i)
		case f.Type.Kind() == reflect.Struct && hasErrorCode(f.Type, map[reflect.Type]bool{}):
			p.nested = append(p.nested, i)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct && hasErrorCode(f.Type.Elem(), map[reflect.Type]bool{}):
			p.nested = append(p.nested, i)
		}
	}
	actual, _ := errorPlans.LoadOrStore(t, p)
	return actual.(*errorPlan)
}

func hasErrorCode(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16:
			return true
		case f.Type.Kind() == reflect.Struct && hasErrorCode(f.Type, seen):
			return true
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct && hasErrorCode(f.Type.Elem(), seen):
			return true
		}
	}
	return false
}

func walkErrorCodes(v reflect.Value, fn func(int16)) {
	if v.Kind() != reflect.Struct {
		return
	}
	p := planFor(v.Type())
	for _, i := range p.codes {
		if c := int16(v.Field(i).Int()); c != 0 {
			fn(c)
		}
	}
	for _, i := range p.nested {
		f := v.Field(i)
		if f.Kind() == reflect.Slice {
			for j := range f.Len() {
				walkErrorCodes(f.Index(j), fn)
			}
			continue
		}
		walkErrorCodes(f, fn)
	}
}
