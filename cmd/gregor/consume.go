package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/gregor-streams/gregor/schemaregistry/recordjson"
	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// recordFormat says which fields of a record the console consumer prints.
// Fields appear in the order of kafka-console-consumer's DefaultMessageFormatter:
// timestamp, partition, offset, headers, key, value, separated by separator.
type recordFormat struct {
	printTimestamp bool
	printPartition bool
	printOffset    bool
	printHeaders   bool
	printKey       bool
	separator      string
}

// appendRecord appends r formatted as a console-consumer line, newline
// included, to buf. A null key or value prints as "null", a null header value
// as "k:null", and a record without headers as NO_HEADERS.
func appendRecord(buf []byte, r *kgo.Record, f recordFormat) []byte {
	if f.printTimestamp {
		switch r.Attrs.TimestampType() {
		case 0:
			buf = append(buf, "CreateTime:"...)
			buf = strconv.AppendInt(buf, r.Timestamp.UnixMilli(), 10)
		case 1:
			buf = append(buf, "LogAppendTime:"...)
			buf = strconv.AppendInt(buf, r.Timestamp.UnixMilli(), 10)
		default:
			buf = append(buf, "NO_TIMESTAMP"...)
		}
		buf = append(buf, f.separator...)
	}
	if f.printPartition {
		buf = append(buf, "Partition:"...)
		buf = strconv.AppendInt(buf, int64(r.Partition), 10)
		buf = append(buf, f.separator...)
	}
	if f.printOffset {
		buf = append(buf, "Offset:"...)
		buf = strconv.AppendInt(buf, r.Offset, 10)
		buf = append(buf, f.separator...)
	}
	if f.printHeaders {
		if len(r.Headers) == 0 {
			buf = append(buf, noHeaders...)
		}
		for i, h := range r.Headers {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, h.Key...)
			buf = append(buf, ':')
			buf = appendNullable(buf, h.Value)
		}
		buf = append(buf, f.separator...)
	}
	if f.printKey {
		buf = appendNullable(buf, r.Key)
		buf = append(buf, f.separator...)
	}
	buf = appendNullable(buf, r.Value)
	return append(buf, '\n')
}

func appendNullable(buf, b []byte) []byte {
	if b == nil {
		return append(buf, "null"...)
	}
	return append(buf, b...)
}

// consumeStart is where a console consumer begins reading.
type consumeStart struct {
	offset     kgo.Offset
	partitions bool // consume only the one --partition, not the whole topic
}

// parseConsumeStart resolves --from-beginning, --offset and --partition the
// way kafka-console-consumer does: --offset needs --partition, and without
// either flag a consumer starts at the end.
func parseConsumeStart(fromBeginning bool, offset string, partition int, group string) (consumeStart, error) {
	start := consumeStart{offset: kgo.NewOffset().AtEnd()}
	if fromBeginning {
		start.offset = kgo.NewOffset().AtStart()
	}
	if partition >= 0 {
		if group != "" {
			return start, usageErrorf("--partition cannot be used with --group")
		}
		start.partitions = true
	}
	if offset == "" {
		return start, nil
	}
	if partition < 0 {
		return start, usageErrorf("--offset needs --partition")
	}
	if fromBeginning {
		return start, usageErrorf("--offset cannot be used with --from-beginning")
	}
	switch offset {
	case "earliest":
		start.offset = kgo.NewOffset().AtStart()
	case "latest":
		start.offset = kgo.NewOffset().AtEnd()
	default:
		n, err := strconv.ParseInt(offset, 10, 64)
		if err != nil || n < 0 {
			return start, usageErrorf("--offset must be earliest, latest or a non-negative number, not %q", offset)
		}
		start.offset = kgo.NewOffset().At(n)
	}
	return start, nil
}

// runConsume is `gregor consume`, the console consumer. It stops on Ctrl-C,
// after --max-messages records or after --timeout-ms without a record, and
// reports how many records it printed on stderr.
func runConsume(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("consume", "gregor consume --topic T [--from-beginning] [--offset earliest|latest|N --partition N] [--max-messages N] [--print-key] [--print-headers] [--print-timestamp] [--group G] [--timeout-ms N] [--schema-registry-url URL]")
	fs.about = "Prints records like kafka-console-consumer.sh. With --schema-registry-url each value (and each key in\n" +
		"Confluent's wire format) is decoded to JSON with the registry schema its frame names, like\n" +
		"kafka-avro-console-consumer: Avro in Avro's JSON encoding, Protobuf in proto3 JSON, JSON Schema as is."
	bootstrap := addBootstrapFlag(fs)
	topic := fs.String("topic", "", "topic to consume")
	fromBeginning := fs.Bool("from-beginning", false, "start at the earliest offset rather than the end (for a group: when it has no committed offset)")
	offset := fs.String("offset", "", "start offset for --partition: earliest, latest or a number")
	partition := fs.Int("partition", -1, "consume only this partition")
	maxMessages := fs.Int("max-messages", 0, "exit after this many records; 0 means no limit")
	printKey := fs.Bool("print-key", false, "print each record's key")
	printHeaders := fs.Bool("print-headers", false, "print each record's headers as k:v,k2:v2 (NO_HEADERS if none)")
	printTimestamp := fs.Bool("print-timestamp", false, "print each record's timestamp as CreateTime:ms or LogAppendTime:ms")
	printPartition := fs.Bool("print-partition", false, "print each record's partition")
	printOffset := fs.Bool("print-offset", false, "print each record's offset")
	separator := fs.String("key-separator", "\t", "separator between printed fields")
	group := fs.String("group", "", "consume as a member of this consumer group")
	timeoutMs := fs.Int("timeout-ms", 0, "exit after this many milliseconds without a record; 0 waits forever")
	fetchMaxBytes := fs.Int("fetch-max-bytes", 50<<20, "most bytes to ask for in one fetch")
	registryURL := fs.String("schema-registry-url", "", "decode values (and framed keys) through the Schema Registry at these comma-separated `URLs`")
	if err := parseTopicFlags(fs, args, stdout, stderr, topic); err != nil {
		return err
	}
	if *maxMessages < 0 || *timeoutMs < 0 {
		return usageErrorf("--max-messages and --timeout-ms must not be negative")
	}
	if *fetchMaxBytes <= 0 {
		return usageErrorf("--fetch-max-bytes must be positive")
	}
	start, err := parseConsumeStart(*fromBeginning, *offset, *partition, *group)
	if err != nil {
		return err
	}
	format := recordFormat{
		printTimestamp: *printTimestamp,
		printPartition: *printPartition,
		printOffset:    *printOffset,
		printHeaders:   *printHeaders,
		printKey:       *printKey,
		separator:      unescapeSeparator(*separator),
	}

	var codec *recordjson.Codec
	if *registryURL != "" {
		rc, err := newRegistryClient(*registryURL)
		if err != nil {
			return err
		}
		codec = recordjson.New(rc)
	}

	opts := []kgo.Opt{kgo.FetchMaxBytes(int32(*fetchMaxBytes))}
	if start.partitions {
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			*topic: {int32(*partition): start.offset},
		}))
	} else {
		opts = append(opts, kgo.ConsumeTopics(*topic), kgo.ConsumeResetOffset(start.offset))
	}
	if *group != "" {
		opts = append(opts, kgo.ConsumerGroup(*group))
	}
	cl, err := newClient(ctx, bootstrap, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := topicMetadataError(ctx, cl, *topic, false, bootstrap.timeout); errors.Is(err, kerr.UnknownTopicOrPartition) {
		// NB: like Kafka's console consumer, keep waiting (a producer may create it), but say so.
		fmt.Fprintf(stderr, "warning: topic %q does not exist (yet); waiting for it to be created (Ctrl-C to stop)\n", *topic)
	}
	if *group != "" {
		// Like Kafka's console consumer: commit what was printed before leaving, so the next run
		// of the group starts after it (kgo's autocommit would leave the last poll uncommitted).
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := cl.CommitUncommittedOffsets(cctx); err != nil {
				fmt.Fprintf(stderr, "warning: committing offsets for group %s: %v\n", *group, err)
			}
		}()
	}

	processed := 0
	defer func() { fmt.Fprintf(stderr, "Processed a total of %d messages\n", processed) }()
	out := bufio.NewWriterSize(stdout, 64<<10)
	var line []byte
	for *maxMessages == 0 || processed < *maxMessages {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if *timeoutMs > 0 {
			pollCtx, cancel = context.WithTimeout(ctx, time.Duration(*timeoutMs)*time.Millisecond)
		}
		limit := -1
		if *maxMessages > 0 {
			limit = *maxMessages - processed
		}
		fetches := cl.PollRecords(pollCtx, limit)
		cancel()
		if fetches.IsClientClosed() || ctx.Err() != nil {
			break
		}
		if err := fetchError(fetches); err != nil {
			out.Flush()
			return explainTopicError(*topic, err, "")
		}
		if fetches.NumRecords() == 0 && pollCtx.Err() != nil {
			break // --timeout-ms passed without a record
		}
		for it := fetches.RecordIter(); !it.Done(); {
			r := it.Next()
			if codec != nil {
				if r, err = decodeWithSchemas(ctx, codec, r, format.printKey); err != nil {
					out.Flush()
					return err
				}
			}
			line = appendRecord(line[:0], r, format)
			if _, err := out.Write(line); err != nil {
				return fmt.Errorf("writing output: %w", err)
			}
			processed++
		}
		if err := out.Flush(); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	return out.Flush()
}

// decodeWithSchemas returns a copy of r with its value, and its key when it is printed and
// framed, decoded to JSON through the registry. An error names the record.
//
// NB: a value must be framed (a consumer of a registry topic expects it; Confluent's console
// consumer fails the same way), but a key is decoded only when it starts with the magic byte and
// is long enough to hold a schema id, since topics often key registry values with plain strings.
func decodeWithSchemas(ctx context.Context, codec *recordjson.Codec, r *kgo.Record, keys bool) (*kgo.Record, error) {
	dup := *r
	if r.Value != nil {
		v, err := codec.Decode(ctx, r.Value)
		if err != nil {
			return nil, fmt.Errorf("record at partition %d offset %d: value: %w", r.Partition, r.Offset, err)
		}
		dup.Value = v
	}
	if keys && len(r.Key) >= serde.HeaderSize && r.Key[0] == serde.MagicByte {
		k, err := codec.Decode(ctx, r.Key)
		if err != nil {
			return nil, fmt.Errorf("record at partition %d offset %d: key: %w", r.Partition, r.Offset, err)
		}
		dup.Key = k
	}
	return &dup, nil
}

// fetchError returns the first fetch error that is not the poll's own
// context ending.
func fetchError(fetches kgo.Fetches) error {
	for _, fe := range fetches.Errors() {
		if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
			continue
		}
		return fe.Err
	}
	return nil
}
