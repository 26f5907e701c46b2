package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Error handling config keys, as Kafka's ConnectorConfig and SinkConnectorConfig (KIP-298).
//
// What this worker does with them:
//   - Conversion (key/value converter) and transformation failures are never retried (Kafka treats
//     them as non-retriable too). With errors.tolerance=none the first one fails the task; with all
//     the record is skipped (its offset still advances), logged if errors.log.enable, and for a sink
//     written to errors.deadletterqueue.topic.name if set.
//   - errors.retry.timeout / errors.retry.delay.max.ms apply to SinkTask.Put failures that wrap a
//     *RetriableError: the same batch is put again with exponential backoff (300ms doubling, capped
//     at the max delay) until it succeeds, the timeout passes (0: no retry, -1: forever) or the task
//     stops. Other Put failures, and Put failures after retries, fail the task whatever the
//     tolerance: like Kafka, errors.tolerance covers only conversion and transforms. A retried Put
//     runs with the group's rebalance blocked (as any Put does), so a long timeout delays rebalances.
//     Source produce failures are retried by the Kafka client itself, not here.
//   - The dead-letter queue is sink-only (a source connector naming one is rejected), and holds the
//     consumed record unchanged (key, value, headers, timestamp), plus the __connect.errors.* headers
//     if errors.deadletterqueue.context.headers.enable. The topic is created on task start if
//     missing (one partition, errors.deadletterqueue.topic.replication.factor replicas). DLQ writes
//     of a polled batch are awaited before Put: a record reaches the DLQ before its offset can be
//     committed, and a DLQ write failure fails the task. Go has no exception classes: only converter
//     and transform failures reach the DLQ, so __connect.errors.exception.class.name is Kafka's
//     DataException, and the stacktrace header holds "<class>: <error chain>" (there is no stack).
const (
	ConfigErrorsTolerance          = "errors.tolerance"
	ConfigErrorsRetryTimeout       = "errors.retry.timeout"
	ConfigErrorsRetryDelayMax      = "errors.retry.delay.max.ms"
	ConfigErrorsLogEnable          = "errors.log.enable"
	ConfigErrorsLogIncludeMessages = "errors.log.include.messages"
	ConfigDLQTopicName             = "errors.deadletterqueue.topic.name"
	ConfigDLQReplicationFactor     = "errors.deadletterqueue.topic.replication.factor"
	ConfigDLQContextHeaders        = "errors.deadletterqueue.context.headers.enable"
)

// Kafka's DLQ context header names.
const (
	HeaderErrorsTopic            = "__connect.errors.topic"
	HeaderErrorsPartition        = "__connect.errors.partition"
	HeaderErrorsOffset           = "__connect.errors.offset"
	HeaderErrorsConnectorName    = "__connect.errors.connector.name"
	HeaderErrorsTaskID           = "__connect.errors.task.id"
	HeaderErrorsStage            = "__connect.errors.stage"
	HeaderErrorsClassName        = "__connect.errors.class.name"
	HeaderErrorsExceptionClass   = "__connect.errors.exception.class.name"
	HeaderErrorsExceptionMessage = "__connect.errors.exception.message"
	HeaderErrorsExceptionTrace   = "__connect.errors.exception.stacktrace"
)

// Stages of record processing, as Kafka's Stage enum (the __connect.errors.stage header).
const (
	StageKeyConverter   = "KEY_CONVERTER"
	StageValueConverter = "VALUE_CONVERTER"
	StageTransformation = "TRANSFORMATION"
	StageTaskPut        = "TASK_PUT"
)

const dataExceptionClass = "org.apache.kafka.connect.errors.DataException"

// RetriableError marks a SinkTask.Put failure as transient (Kafka's RetriableException): the worker
// puts the same batch again within errors.retry.timeout.
type RetriableError struct{ Err error }

func (e *RetriableError) Error() string { return e.Err.Error() }
func (e *RetriableError) Unwrap() error { return e.Err }

// errorConfigKeys adds the errors.* keys to a connector's common ConfigDef.
func errorConfigKeys(d *ConfigDef, t PluginType) {
	d.Define(ConfigKey{Name: ConfigErrorsRetryTimeout, Type: TypeConfigLong, Default: "0", Importance: Medium, Group: "Error Handling", OrderInGroup: 1, Width: WidthMedium, DisplayName: "Retry Timeout for Errors", Documentation: "The maximum duration in milliseconds that a failed operation will be reattempted. The default is 0, which means no retries will be attempted. Use -1 for infinite retries.", Validator: AtLeast(-1)}).
		Define(ConfigKey{Name: ConfigErrorsRetryDelayMax, Type: TypeConfigLong, Default: "60000", Importance: Medium, Group: "Error Handling", OrderInGroup: 2, Width: WidthMedium, DisplayName: "Maximum Delay Between Retries for Errors", Documentation: "The maximum duration in milliseconds between consecutive retry attempts.", Validator: AtLeast(0)}).
		Define(ConfigKey{Name: ConfigErrorsTolerance, Type: TypeConfigString, Default: "none", Importance: Medium, Group: "Error Handling", OrderInGroup: 3, Width: WidthShort, DisplayName: "Error Tolerance", Documentation: "Behavior for tolerating errors during connector operation. 'none' is the default value and signals that any error will result in an immediate connector task failure; 'all' changes the behavior to skip over problematic records.", Validator: OneOf("none", "all")}).
		Define(ConfigKey{Name: ConfigErrorsLogEnable, Type: TypeConfigBoolean, Default: "false", Importance: Medium, Group: "Error Handling", OrderInGroup: 4, Width: WidthShort, DisplayName: "Log Errors", Documentation: "If true, write each error and the details of the failed operation and problematic record to the Connect application log."}).
		Define(ConfigKey{Name: ConfigErrorsLogIncludeMessages, Type: TypeConfigBoolean, Default: "false", Importance: Medium, Group: "Error Handling", OrderInGroup: 5, Width: WidthShort, DisplayName: "Log Error Details", Documentation: "Whether to include in the log the Connect record that resulted in a failure."})
	if t != PluginSink {
		// Kafka's source connectors have no DLQ; a config naming one is a mistake worth a 400.
		d.Define(ConfigKey{Name: ConfigDLQTopicName, Type: TypeConfigString, Default: "", Importance: Medium, Group: "Error Handling", OrderInGroup: 6, Width: WidthMedium, DisplayName: "Dead Letter Queue Topic Name", Documentation: "Not supported on source connectors.",
			Validator: ValidatorFunc(func(_ string, v any) error {
				if s, _ := v.(string); s != "" {
					return errors.New("a dead letter queue is only supported by sink connectors")
				}
				return nil
			})})
		return
	}
	d.Define(ConfigKey{Name: ConfigDLQTopicName, Type: TypeConfigString, Default: "", Importance: Medium, Group: "Error Handling", OrderInGroup: 6, Width: WidthMedium, DisplayName: "Dead Letter Queue Topic Name", Documentation: "The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error when processed by this sink connector, or its transformations or converters. The topic name is blank by default, which means that no messages are to be recorded in the DLQ."}).
		Define(ConfigKey{Name: ConfigDLQReplicationFactor, Type: TypeConfigInt, Default: "3", Importance: Medium, Group: "Error Handling", OrderInGroup: 7, Width: WidthMedium, DisplayName: "Dead Letter Queue Topic Replication Factor", Documentation: "Replication factor used to create the dead letter queue topic when it doesn't already exist; -1 uses the broker's default.",
			Validator: ValidatorFunc(func(_ string, v any) error {
				if n, _ := v.(int32); n == 0 || n < -1 || n > 32767 {
					return errors.New("replication factor must be positive or -1 (the broker's default)")
				}
				return nil
			})}).
		Define(ConfigKey{Name: ConfigDLQContextHeaders, Type: TypeConfigBoolean, Default: "false", Importance: Medium, Group: "Error Handling", OrderInGroup: 8, Width: WidthMedium, DisplayName: "Enable Error Context Headers", Documentation: "If true, add headers containing error context to the messages written to the dead letter queue. To avoid clashing with headers from the original record, all error context header keys will start with __connect.errors."})
}

// addDLQTopicErrors rejects a sink DLQ topic that is also consumed, as Kafka does.
func addDLQTopicErrors(infos *ConfigInfos, config map[string]string) {
	dlq := strings.TrimSpace(config[ConfigDLQTopicName])
	if dlq == "" {
		return
	}
	consumed := slices.Contains(splitList(config[ConfigTopics]), dlq)
	if re := strings.TrimSpace(config[ConfigTopicsRegex]); re != "" && !consumed {
		if rx, err := regexp.Compile(re); err == nil && rx.MatchString(dlq) {
			for i := range infos.Configs {
				if infos.Configs[i].Value.Name == ConfigDLQTopicName {
					infos.Configs[i].Value.Errors = append(infos.Configs[i].Value.Errors,
						fmt.Sprintf("Invalid value %s for configuration %s: the DLQ topic '%s' may not be included in the regex matching the topics ('%s=%s') to be consumed.", dlq, ConfigDLQTopicName, dlq, ConfigTopicsRegex, re))
				}
			}
			return
		}
	}
	for _, topic := range splitList(config[ConfigTopics]) {
		if topic == dlq {
			for i := range infos.Configs {
				if infos.Configs[i].Value.Name == ConfigDLQTopicName {
					infos.Configs[i].Value.Errors = append(infos.Configs[i].Value.Errors,
						fmt.Sprintf("Invalid value %s for configuration %s: the DLQ topic '%s' may not be included in the list of topics ('%s=%s') to be consumed.", dlq, ConfigDLQTopicName, dlq, ConfigTopics, config[ConfigTopics]))
				}
			}
			return
		}
	}
}

// errorHandler applies a task's errors.* config to failed records.
type errorHandler struct {
	connector string
	task      int
	logger    *slog.Logger

	tolerateAll   bool
	retryTimeout  time.Duration // <0: forever
	retryDelayMax time.Duration
	logEnable     bool
	logMessages   bool

	dlqTopic   string
	dlqRF      int16
	dlqHeaders bool
	dlq        *kgo.Client
	pending    []*kgo.Record // DLQ records of the batch being processed; see flushDLQ
	m          *taskMetrics
}

func newErrorHandler(t *taskRunner) (*errorHandler, error) {
	c := t.config
	h := &errorHandler{connector: t.connector, task: t.id, logger: t.logger, retryDelayMax: time.Minute, dlqRF: 3, m: t.m}
	parseBool := func(key string) (bool, error) {
		v, err := ParseValue(TypeConfigBoolean, c[key])
		if _, set := c[key]; !set {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("%s: %w", key, err)
		}
		return v.(bool), nil
	}
	parseLong := func(key string, def int64) (int64, error) {
		if _, set := c[key]; !set {
			return def, nil
		}
		v, err := ParseValue(TypeConfigLong, c[key])
		if err != nil {
			return 0, fmt.Errorf("%s: %w", key, err)
		}
		return v.(int64), nil
	}
	switch tol := strings.TrimSpace(c[ConfigErrorsTolerance]); tol {
	case "", "none":
	case "all":
		h.tolerateAll = true
	default:
		return nil, fmt.Errorf("%s: invalid value %q", ConfigErrorsTolerance, tol)
	}
	var err error
	ms, err := parseLong(ConfigErrorsRetryTimeout, 0)
	if err != nil {
		return nil, err
	}
	h.retryTimeout = time.Duration(ms) * time.Millisecond
	if ms < 0 {
		h.retryTimeout = -1
	}
	if ms, err = parseLong(ConfigErrorsRetryDelayMax, 60000); err != nil {
		return nil, err
	}
	h.retryDelayMax = time.Duration(max(ms, 0)) * time.Millisecond
	if h.logEnable, err = parseBool(ConfigErrorsLogEnable); err != nil {
		return nil, err
	}
	if h.logMessages, err = parseBool(ConfigErrorsLogIncludeMessages); err != nil {
		return nil, err
	}
	if t.plugin.Type == PluginSink {
		h.dlqTopic = strings.TrimSpace(c[ConfigDLQTopicName])
		if rf, err := parseLong(ConfigDLQReplicationFactor, 3); err != nil {
			return nil, err
		} else {
			h.dlqRF = int16(rf)
		}
		if h.dlqHeaders, err = parseBool(ConfigDLQContextHeaders); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// startDLQ creates the DLQ topic if missing and the producer that writes to it.
func (h *errorHandler) startDLQ(ctx context.Context, opts []kgo.Opt) error {
	if h.dlqTopic == "" {
		return nil
	}
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(cctx, 1, h.dlqRF, nil, h.dlqTopic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		cl.Close()
		return fmt.Errorf("create dead letter queue topic %s: %w", h.dlqTopic, err)
	}
	h.dlq = cl
	return nil
}

func (h *errorHandler) close() {
	if h.dlq != nil {
		h.dlq.Close()
	}
}

// failure is one failed processing step of a consumed record.
type failure struct {
	stage     string
	class     string // the converter's or transformation's class
	exception string // exception class name
	rec       *kgo.Record
	err       error
}

// sinkFailure reports a failed conversion or transform of consumed record r. It returns nil if the
// record is tolerated (then skipped, after the DLQ write) or the error that fails the task.
func (h *errorHandler) sinkFailure(f failure) error {
	if f.exception == "" {
		f.exception = dataExceptionClass
	}
	if h.logEnable {
		attrs := []any{"stage", f.stage, "class", f.class, "topic", f.rec.Topic, "partition", f.rec.Partition, "offset", f.rec.Offset, "err", f.err}
		if h.logMessages {
			attrs = append(attrs, "key", string(f.rec.Key), "value", string(f.rec.Value), "timestamp", f.rec.Timestamp)
		}
		h.logger.Error("error encountered in task", attrs...)
	}
	wrapped := fmt.Errorf("tolerance exceeded in error handler: %s stage (%s) failed on %s-%d@%d: %w", f.stage, f.class, f.rec.Topic, f.rec.Partition, f.rec.Offset, f.err)
	if !h.tolerateAll {
		return wrapped
	}
	if h.dlq == nil {
		return nil
	}
	out := &kgo.Record{Topic: h.dlqTopic, Partition: 0, Key: f.rec.Key, Value: f.rec.Value, Timestamp: f.rec.Timestamp,
		Headers: append([]kgo.RecordHeader(nil), f.rec.Headers...)}
	if h.dlqHeaders {
		add := func(k, v string) { out.Headers = append(out.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)}) }
		add(HeaderErrorsTopic, f.rec.Topic)
		add(HeaderErrorsPartition, strconv.Itoa(int(f.rec.Partition)))
		add(HeaderErrorsOffset, strconv.FormatInt(f.rec.Offset, 10))
		add(HeaderErrorsConnectorName, h.connector)
		add(HeaderErrorsTaskID, strconv.Itoa(h.task))
		add(HeaderErrorsStage, f.stage)
		add(HeaderErrorsClassName, f.class)
		add(HeaderErrorsExceptionClass, f.exception)
		add(HeaderErrorsExceptionMessage, f.err.Error())
		add(HeaderErrorsExceptionTrace, f.exception+": "+f.err.Error())
	}
	h.pending = append(h.pending, out)
	return nil
}

// flushDLQ writes the DLQ records of the current batch and waits for Kafka to acknowledge them,
// so that no offset past a bad record is committed before the record is in the DLQ.
func (h *errorHandler) flushDLQ(ctx context.Context) error {
	if len(h.pending) == 0 {
		return nil
	}
	recs := h.pending
	h.pending = nil
	if err := h.dlq.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("write to dead letter queue %s: %w", h.dlqTopic, err)
	}
	h.m.dlqWritten(len(recs))
	return nil
}

// sourceFailure reports a failed transform or conversion of a polled source record: nil if it is
// tolerated (the record is skipped) or the error that fails the task.
func (h *errorHandler) sourceFailure(stage, class string, r SourceRecord, err error) error {
	if h.logEnable {
		attrs := []any{"stage", stage, "class", class, "topic", r.Topic, "err", err}
		if h.logMessages {
			attrs = append(attrs, "key", fmt.Sprint(r.Key), "value", fmt.Sprint(r.Value), "source_partition", r.SourcePartition, "source_offset", r.SourceOffset)
		}
		h.logger.Error("error encountered in task", attrs...)
	}
	if !h.tolerateAll {
		return fmt.Errorf("tolerance exceeded in error handler: %s stage (%s) failed: %w", stage, class, err)
	}
	return nil
}

// retryPut calls put, and again with exponential backoff while it fails with a *RetriableError and
// errors.retry.timeout has not passed.
func (h *errorHandler) retryPut(ctx context.Context, put func() error) error {
	err := put()
	if err == nil || h.retryTimeout == 0 {
		return err
	}
	var re *RetriableError
	deadline := time.Now().Add(h.retryTimeout)
	delay := 300 * time.Millisecond
	for attempt := 1; errors.As(err, &re); attempt++ {
		wait := min(delay, h.retryDelayMax)
		if h.retryTimeout > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			wait = min(wait, left)
		}
		if h.logEnable {
			h.logger.Warn("retrying put", "attempt", attempt, "delay", wait, "err", err)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
		delay *= 2
		if err = put(); err == nil {
			return nil
		}
	}
	return err
}

// converterClass names the converter that ran a stage, for __connect.errors.class.name.
func (t *taskRunner) converterClass(isKey bool) string {
	prop, class := ConfigValueConverter, t.w.cfg.ValueConverter
	if isKey {
		prop, class = ConfigKeyConverter, t.w.cfg.KeyConverter
	}
	if c := strings.TrimSpace(t.config[prop]); c != "" {
		class = c
	}
	return class
}

// transformClass names the transformation chain for __connect.errors.class.name: the class of the
// single transform, or every class in order (the chain does not say which one failed).
func (t *taskRunner) transformClass() string {
	var classes []string
	for _, alias := range splitList(t.config[ConfigTransforms]) {
		classes = append(classes, strings.TrimSpace(t.config[ConfigTransforms+"."+alias+".type"]))
	}
	return strings.Join(classes, ",")
}

// conversionError is a source record's converter failure and its stage.
type conversionError struct {
	stage string
	err   error
}

func (e *conversionError) Error() string {
	if e.stage == StageKeyConverter {
		return "key converter: " + e.err.Error()
	}
	return "value converter: " + e.err.Error()
}

func (e *conversionError) Unwrap() error { return e.err }
