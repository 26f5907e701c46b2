package streams

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TimestampExtractor gives the timestamp (ms since the Unix epoch) of an input record, as
// Kafka Streams' TimestampExtractor does: the timestamp then travels with the record through
// the topology, drives the task's stream time (stream-time punctuations, windows) and is the
// timestamp of the records written to sinks. A negative result is invalid: the record fails
// with ErrInvalidTimestamp.
//
// It runs on the task's goroutine for every record read from a source topic; it must not keep
// r, and must be safe for concurrent use when the topology has several tasks.
type TimestampExtractor func(r *kgo.Record) int64

// RecordTimestamp is the default TimestampExtractor: the timestamp the record carries in Kafka
// (its CreateTime, or LogAppendTime when the topic says so). Kafka Streams calls it
// FailOnInvalidTimestamp.
func RecordTimestamp(r *kgo.Record) int64 { return r.Timestamp.UnixMilli() }

// ErrInvalidTimestamp is returned (wrapped, naming the record's topic/partition@offset, the
// source and the timestamp) when a record's timestamp, or what a TimestampExtractor made of
// it, is negative. It stops the App like a record that does not deserialise.
var ErrInvalidTimestamp = errors.New("streams: invalid (negative) record timestamp")

// WithTimestampExtractor sets the TimestampExtractor of a source (Stream), overriding
// Config.TimestampExtractor for that topic. For example, to take the time from the value:
//
//	streams.Stream(b, "readings", statestore.String{}, statestore.JSON[reading]{},
//		streams.WithTimestampExtractor(func(r *kgo.Record) int64 {
//			var v reading
//			if json.Unmarshal(r.Value, &v) != nil {
//				return -1 // fails the record with ErrInvalidTimestamp
//			}
//			return v.TakenAtMs
//		}))
//
// It has no effect on other operations.
func WithTimestampExtractor(f TimestampExtractor) Option {
	return func(c *opConfig) { c.timestampExtractor = f }
}

// extractTimestamp sets r.Timestamp to the timestamp its source's extractor gives, so that
// every later reader (the source's Record, stream time, windows) sees the same time. It fails
// with ErrInvalidTimestamp when that timestamp is negative.
//
// NB: repartition topics always use the record's own timestamp, which the writing
// sub-topology set from the extracted one; a user extractor may not understand their values
// (Kafka Streams does the same since KAFKA-4785).
func (t *task) extractTimestamp(r *kgo.Record) error {
	ps := t.processorState()
	// NB: records come in runs of one partition, so the last topic's extractor is usually
	// the one: that saves a map lookup per record.
	ext := ps.lastExtractor
	if r.Topic != ps.lastTopic {
		var ok bool
		if ext, ok = ps.extractors[r.Topic]; !ok {
			ext = t.app.timestampExtractorFor(r.Topic)
			ps.extractors[r.Topic] = ext
		}
		ps.lastTopic, ps.lastExtractor = r.Topic, ext
	}
	if ext == nil {
		if r.Timestamp.UnixMilli() < 0 {
			return fmt.Errorf("%w: %d", ErrInvalidTimestamp, r.Timestamp.UnixMilli())
		}
		return nil
	}
	ts := ext(r)
	if ts < 0 {
		return fmt.Errorf("%w: the timestamp extractor returned %d", ErrInvalidTimestamp, ts)
	}
	r.Timestamp = time.UnixMilli(ts)
	return nil
}

// timestampExtractorFor is the extractor of a full source topic name: the source's own, else
// Config.TimestampExtractor for a user topic; nil means the record's timestamp.
func (a *App) timestampExtractorFor(topic string) TimestampExtractor {
	for _, st := range a.topo.subs {
		for _, n := range st.sources {
			if topicName(a.cfg.ApplicationID, n) != topic {
				continue
			}
			if n.timestampExtractor != nil {
				return n.timestampExtractor
			}
			if n.internal {
				return nil
			}
			return a.cfg.TimestampExtractor
		}
	}
	return a.cfg.TimestampExtractor
}
