package console

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// browsedRecord is one record of GET /api/topics/{topic}/messages.
type browsedRecord struct {
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Timestamp int64           `json:"timestamp"`
	Key       renderedField   `json:"key"`
	Value     renderedField   `json:"value"`
	Headers   []browsedHeader `json:"headers"`
}

type browsedHeader struct {
	Key   string        `json:"key"`
	Value renderedField `json:"value"`
}

// Browse limits: records returned, records scanned while filtering, time spent.
const (
	maxBrowseLimit = 500
	maxScanned     = 20000
	browseWait     = 3 * time.Second
)

// browseQuery is a parsed message-browser request.
type browseQuery struct {
	partition int32 // -1: every partition
	from      string
	offset    int64
	timestamp int64
	limit     int
	key       string
	value     string
	header    string
}

func parseBrowse(r *http.Request) (browseQuery, error) {
	q := browseQuery{from: r.URL.Query().Get("from"), key: strings.ToLower(r.URL.Query().Get("key")),
		value: strings.ToLower(r.URL.Query().Get("value")), header: strings.ToLower(r.URL.Query().Get("header"))}
	p, err := queryInt(r, "partition", -1)
	if err != nil {
		return q, err
	}
	q.partition = int32(p)
	if q.from == "" {
		q.from = "newest"
	}
	lim, err := queryInt(r, "limit", 50)
	if err != nil {
		return q, err
	}
	if lim < 1 || lim > maxBrowseLimit {
		return q, errBadRequest("limit must be between 1 and %d (got %d)", maxBrowseLimit, lim)
	}
	q.limit = int(lim)
	switch q.from {
	case "newest", "oldest":
	case "offset":
		if r.URL.Query().Get("offset") == "" {
			return q, errBadRequest("from=offset needs offset=N")
		}
		if q.offset, err = queryInt(r, "offset", 0); err != nil {
			return q, err
		}
	case "timestamp":
		if r.URL.Query().Get("timestamp") == "" {
			return q, errBadRequest("from=timestamp needs timestamp=<Unix ms>")
		}
		if q.timestamp, err = queryInt(r, "timestamp", 0); err != nil {
			return q, err
		}
	default:
		return q, errBadRequest("from must be newest, oldest, offset or timestamp (got %q)", q.from)
	}
	return q, nil
}

// browseMessages is GET /api/topics/{topic}/messages: records of one partition or all, from the
// newest, the oldest, an offset or a timestamp, filtered by case-insensitive substrings of the key,
// the value and a header ("name" or "name=value").
func (s *Server) browseMessages(r *http.Request) (any, error) {
	ctx := r.Context()
	topic := r.PathValue("topic")
	q, err := parseBrowse(r)
	if err != nil {
		return nil, err
	}
	parts, err := s.topicPartitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	if q.partition >= 0 {
		if q.partition >= int32(len(parts)) {
			return nil, errBadRequest("topic %q has partitions 0..%d, not %d", topic, len(parts)-1, q.partition)
		}
		parts = []int32{q.partition}
	}
	starts, err := s.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, errUnavailable("listing start offsets of %q: %v", topic, err)
	}
	ends, err := s.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, errUnavailable("listing end offsets of %q: %v", topic, err)
	}
	var atTime kadm.ListedOffsets
	if q.from == "timestamp" {
		if atTime, err = s.adm.ListOffsetsAfterMilli(ctx, q.timestamp, topic); err != nil {
			return nil, errUnavailable("listing offsets of %q by time: %v", topic, err)
		}
	}
	from := map[int32]int64{}
	until := map[int32]int64{}
	for _, p := range parts {
		start, _ := starts.Lookup(topic, p)
		end, _ := ends.Lookup(topic, p)
		if start.Err != nil || end.Err != nil {
			return nil, errUnavailable("offsets of %s-%d: %v %v", topic, p, start.Err, end.Err)
		}
		var o int64
		switch q.from {
		case "newest":
			o = max(start.Offset, end.Offset-int64(q.limit))
		case "oldest":
			o = start.Offset
		case "offset":
			if q.offset < start.Offset || q.offset > end.Offset {
				return nil, errBadRequest("offset %d is out of range for partition %d of %q: valid offsets are %d to %d",
					q.offset, p, topic, start.Offset, end.Offset)
			}
			o = q.offset
		case "timestamp":
			o = end.Offset
			if t, ok := atTime.Lookup(topic, p); ok && t.Err == nil && t.Offset >= 0 {
				o = min(max(t.Offset, start.Offset), end.Offset)
			}
		}
		if o < end.Offset {
			from[p], until[p] = o, end.Offset
		}
	}
	recs, scanned, err := s.fetchRange(ctx, topic, from, until, q)
	if err != nil {
		return nil, err
	}
	return map[string]any{"topic": topic, "records": recs, "scanned": scanned}, nil
}

// topicPartitions returns a topic's partition numbers 0..n-1, or 404.
func (s *Server) topicPartitions(ctx context.Context, topic string) ([]int32, error) {
	details, err := s.adm.ListTopicsWithInternal(ctx, topic)
	if err != nil {
		return nil, errUnavailable("cluster unreachable: %v", err)
	}
	td, ok := details[topic]
	if !ok || td.Err != nil || len(td.Partitions) == 0 {
		return nil, errNotFound("topic %q does not exist", topic)
	}
	var parts []int32
	for p := range td.Partitions {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	return parts, nil
}

// fetchRange reads [from, until) of each partition with a short-lived consumer, keeping records
// that match q's filters, until q.limit match, every partition is read, maxScanned records were
// seen, or browseWait passed.
func (s *Server) fetchRange(ctx context.Context, topic string, from, until map[int32]int64, q browseQuery) ([]browsedRecord, int, error) {
	out := []browsedRecord{}
	if len(from) == 0 {
		return out, 0, nil
	}
	offsets := map[int32]kgo.Offset{}
	for p, o := range from {
		offsets[p] = kgo.NewOffset().At(o)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(s.opts.BootstrapServers...),
		kgo.ClientID("gregor-console-browser"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(250 * time.Millisecond),
	}, s.opts.ClientOpts...)...)
	if err != nil {
		return nil, 0, fmt.Errorf("browser client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, browseWait)
	defer cancel()
	remaining := len(until)
	done := map[int32]bool{}
	scanned := 0
	for remaining > 0 && len(out) < q.limit && scanned < maxScanned {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		for _, fe := range fetches.Errors() {
			if fe.Err != nil && fe.Err != context.DeadlineExceeded {
				return nil, scanned, errUnavailable("reading %s-%d: %v", fe.Topic, fe.Partition, fe.Err)
			}
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			if done[rec.Partition] || rec.Offset >= until[rec.Partition] {
				return
			}
			scanned++
			if rec.Offset+1 >= until[rec.Partition] {
				done[rec.Partition] = true
				remaining--
			}
			if len(out) < q.limit && q.matches(rec) {
				out = append(out, browse(rec))
			}
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out, scanned, nil
}

func (q browseQuery) matches(rec *kgo.Record) bool {
	if q.key != "" && !strings.Contains(strings.ToLower(string(rec.Key)), q.key) {
		return false
	}
	if q.value != "" && !strings.Contains(strings.ToLower(string(rec.Value)), q.value) {
		return false
	}
	if q.header != "" {
		name, value, withValue := strings.Cut(q.header, "=")
		found := false
		for _, h := range rec.Headers {
			if strings.ToLower(h.Key) == name && (!withValue || strings.Contains(strings.ToLower(string(h.Value)), value)) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func browse(rec *kgo.Record) browsedRecord {
	b := browsedRecord{Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp.UnixMilli(),
		Key: render(rec.Key), Value: render(rec.Value), Headers: []browsedHeader{}}
	for _, h := range rec.Headers {
		b.Headers = append(b.Headers, browsedHeader{Key: h.Key, Value: render(h.Value)})
	}
	return b
}

// produceRequest is POST /api/topics/{topic}/messages. Key and value are UTF-8 text (null when
// absent: a null value is a tombstone); Partition, when set, picks the partition, else the key's
// hash (Kafka's murmur2) does.
type produceRequest struct {
	Partition *int32            `json:"partition"`
	Key       *string           `json:"key"`
	Value     *string           `json:"value"`
	Headers   map[string]string `json:"headers"`
}

func (s *Server) produceMessage(r *http.Request) (any, error) {
	ctx := r.Context()
	topic := r.PathValue("topic")
	var req produceRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	parts, err := s.topicPartitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	rec := &kgo.Record{Topic: topic}
	if req.Partition != nil {
		if *req.Partition < 0 || *req.Partition >= int32(len(parts)) {
			return nil, errBadRequest("topic %q has partitions 0..%d, not %d", topic, len(parts)-1, *req.Partition)
		}
		rec.Partition = *req.Partition
		rec.Context = context.WithValue(ctx, manualPartition{}, true)
	}
	if req.Key != nil {
		rec.Key = []byte(*req.Key)
	}
	if req.Value != nil {
		rec.Value = []byte(*req.Value)
	}
	names := make([]string, 0, len(req.Headers))
	for k := range req.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(req.Headers[k])})
	}
	if err := s.client.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return nil, topicErr(topic, err)
	}
	return map[string]any{"topic": topic, "partition": rec.Partition, "offset": rec.Offset,
		"timestamp": rec.Timestamp.UnixMilli()}, nil
}

// manualPartition marks (in a record's Context) a record whose Partition was chosen by the user.
type manualPartition struct{}

// partitioner honours a user-chosen partition and otherwise partitions as Kafka's default does
// (murmur2 of the key; keyless records stick to a partition per batch).
func partitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		sticky := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
		return func(r *kgo.Record, n int) int {
			if r.Context != nil && r.Context.Value(manualPartition{}) != nil && int(r.Partition) < n {
				return int(r.Partition)
			}
			return sticky.Partition(r, n)
		}
	})
}
