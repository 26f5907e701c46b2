package streams

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrStateDirLocked is returned (wrapped, with the directory and the holder's PID) by Start when
// another App, in this process or another, holds <StateDir>/<ApplicationID>: two instances of an
// application must not share local state (Kafka Streams refuses them the same way).
var ErrStateDirLocked = errors.New("streams: state directory is in use by another instance")

// DeserializationError is an input record whose key or value its source's serde rejects (a
// poison record).
type DeserializationError struct {
	Topic     string
	Partition int32
	Offset    int64
	// Part is "key" or "value".
	Part string
	Err  error
}

func (e *DeserializationError) Error() string {
	return fmt.Sprintf("streams: deserialize %s of %s/%d@%d: %v", e.Part, e.Topic, e.Partition, e.Offset, e.Err)
}

func (e *DeserializationError) Unwrap() error { return e.Err }

// DeserializationResponse is what a DeserializationHandler decides.
type DeserializationResponse int

const (
	// DeserializationFail stops the App with the error (Err names topic, partition and offset).
	DeserializationFail DeserializationResponse = iota
	// DeserializationContinue skips the record: it counts as processed and its offset is
	// committed.
	DeserializationContinue
)

// DeserializationContext is what a DeserializationHandler may use.
type DeserializationContext interface {
	// Record is the poison input record. The handler must not keep it.
	Record() *kgo.Record
	// Produce sends a record through the App's producer: it is flushed before the input
	// offsets are committed, so a record sent to a dead-letter topic is never lost.
	Produce(r *kgo.Record)
	// Logger is the App's logger.
	Logger() *slog.Logger
}

// DeserializationHandler decides what happens to a poison record, as Kafka Streams'
// default.deserialization.exception.handler does. Config.DeserializationHandler defaults to
// LogAndFail; LogAndContinue and SendToDeadLetterTopic are the other built-ins.
type DeserializationHandler func(ctx DeserializationContext, err *DeserializationError) DeserializationResponse

// LogAndFail logs the poison record and stops the App (the default).
func LogAndFail(ctx DeserializationContext, err *DeserializationError) DeserializationResponse {
	ctx.Logger().Error("poison record: stopping", "topic", err.Topic, "partition", err.Partition,
		"offset", err.Offset, "err", err.Err)
	return DeserializationFail
}

// LogAndContinue logs the poison record and skips it.
func LogAndContinue(ctx DeserializationContext, err *DeserializationError) DeserializationResponse {
	ctx.Logger().Warn("poison record: skipped", "topic", err.Topic, "partition", err.Partition,
		"offset", err.Offset, "err", err.Err)
	return DeserializationContinue
}

// Dead-letter record headers, as Kafka Streams names them (KIP-1034).
const (
	HeaderErrorException = "__streams.errors.exception"
	HeaderErrorMessage   = "__streams.errors.message"
	HeaderErrorTopic     = "__streams.errors.topic"
	HeaderErrorPartition = "__streams.errors.partition"
	HeaderErrorOffset    = "__streams.errors.offset"
)

// SendToDeadLetterTopic returns a handler that copies the poison record (key, value, headers,
// timestamp) to topic, adding headers that say where it came from and why it failed, and skips
// it. The dead-letter record is keyed like the input, so it lands in the partition its key
// hashes to.
func SendToDeadLetterTopic(topic string) DeserializationHandler {
	return func(ctx DeserializationContext, err *DeserializationError) DeserializationResponse {
		in := ctx.Record()
		headers := make([]kgo.RecordHeader, 0, len(in.Headers)+5)
		headers = append(headers, in.Headers...)
		headers = append(headers,
			kgo.RecordHeader{Key: HeaderErrorException, Value: []byte("DeserializationError")},
			kgo.RecordHeader{Key: HeaderErrorMessage, Value: []byte(err.Error())},
			kgo.RecordHeader{Key: HeaderErrorTopic, Value: []byte(err.Topic)},
			kgo.RecordHeader{Key: HeaderErrorPartition, Value: []byte(strconv.Itoa(int(err.Partition)))},
			kgo.RecordHeader{Key: HeaderErrorOffset, Value: []byte(strconv.FormatInt(err.Offset, 10))},
		)
		ctx.Produce(&kgo.Record{Topic: topic, Key: clone(in.Key), Value: clone(in.Value),
			Headers: headers, Timestamp: in.Timestamp})
		ctx.Logger().Warn("poison record: sent to dead-letter topic", "dead_letter_topic", topic,
			"topic", err.Topic, "partition", err.Partition, "offset", err.Offset, "err", err.Err)
		return DeserializationContinue
	}
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// deserializationContext is the task's DeserializationContext for one record.
type deserializationContext struct {
	t *task
	r *kgo.Record
}

func (c deserializationContext) Record() *kgo.Record   { return c.r }
func (c deserializationContext) Produce(r *kgo.Record) { c.t.app.produce(r) }
func (c deserializationContext) Logger() *slog.Logger {
	return c.t.app.log.With("task", c.t.id.String())
}
