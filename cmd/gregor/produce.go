package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// defaultMaxRequestSize bounds one record batch. NB: it is far above Kafka's
// 1 MiB default so that multi-MiB lines go through; the broker's
// max.message.bytes still decides what it accepts.
const defaultMaxRequestSize = 64 << 20

// noHeaders is what the console consumer prints for a record without headers;
// the producer accepts it back so that consumer output can be replayed.
const noHeaders = "NO_HEADERS"

// lineFormat says how a stdin line becomes a record.
type lineFormat struct {
	parseKey     bool   // the line is key, keySeparator, value
	keySeparator string // separates key from value when parseKey
	// parseHeaders means the line starts with `k:v,k2:v2` and a tab before
	// the key (or value); noHeaders or an empty field means none.
	parseHeaders bool
	// staticHeaders are added to every record (from --headers).
	staticHeaders []kgo.RecordHeader
	// nullMarker, when not empty, is the text of a null key or value (a tombstone's value), as
	// Kafka's console producer's null.marker property.
	nullMarker string
	// schemas, when set, encode keys and values (JSON) through a schema registry.
	schemas *recordSchemas
}

// parseLine splits one stdin line (without its line ending) into a record.
// The returned record aliases line.
func parseLine(line []byte, f lineFormat) (*kgo.Record, error) {
	r := &kgo.Record{}
	if f.parseHeaders {
		field, rest, ok := bytes.Cut(line, []byte("\t"))
		if !ok {
			return nil, errors.New("no headers delimiter (tab) found")
		}
		headers, err := parseHeaders(string(field))
		if err != nil {
			return nil, err
		}
		r.Headers = headers
		line = rest
	}
	r.Headers = append(r.Headers, f.staticHeaders...)
	if f.parseKey {
		key, value, ok := bytes.Cut(line, []byte(f.keySeparator))
		if !ok {
			return nil, fmt.Errorf("no key separator %q found", f.keySeparator)
		}
		r.Key = key
		line = value
	}
	r.Value = line
	if f.nullMarker != "" {
		if r.Key != nil && string(r.Key) == f.nullMarker {
			r.Key = nil
		}
		if string(r.Value) == f.nullMarker {
			r.Value = nil
		}
	}
	return r, nil
}

// applyProducerProperties applies Kafka console-producer `--property key=value` settings
// (parse.key, key.separator, parse.headers, null.marker, and the Confluent console producers'
// schema.registry.url, key.schema.id, value.schema.id, key.schema, value.schema, ...) to f.
// keySeparator is the separator --key-separator gave, if any.
func applyProducerProperties(f *lineFormat, props []string) error {
	for _, p := range props {
		key, value, ok := strings.Cut(p, "=")
		if !ok {
			return usageErrorf("--property %q is not of the form key=value", p)
		}
		switch key {
		case "parse.key":
			f.parseKey = value == "true"
			if f.parseKey && f.keySeparator == "" {
				f.keySeparator = "\t"
			}
		case "key.separator":
			if f.keySeparator = unescapeSeparator(value); f.keySeparator == "" {
				return usageErrorf("--property key.separator must not be empty")
			}
		case "parse.headers":
			f.parseHeaders = value == "true"
		case "null.marker":
			f.nullMarker = value
		default:
			if f.schemas != nil {
				if ok, err := f.schemas.applySchemaProperty(key, value); ok {
					if err != nil {
						return err
					}
					continue
				}
			}
			return usageErrorf("--property %q is not supported; the console producer takes parse.key, key.separator, parse.headers, null.marker, %s", key, schemaProperties)
		}
	}
	return nil
}

// parseHeaders parses `k1:v1,k2:v2`. A header without ':' has a null value;
// "" and NO_HEADERS mean no headers. Keys may repeat, as in Kafka.
func parseHeaders(s string) ([]kgo.RecordHeader, error) {
	if s == "" || s == noHeaders {
		return nil, nil
	}
	var headers []kgo.RecordHeader
	for _, h := range strings.Split(s, ",") {
		key, value, hasValue := strings.Cut(h, ":")
		if key == "" {
			return nil, fmt.Errorf("header %q has an empty key", h)
		}
		header := kgo.RecordHeader{Key: key}
		if hasValue {
			header.Value = []byte(value)
		}
		headers = append(headers, header)
	}
	return headers, nil
}

// unescapeSeparator lets a separator be typed as `\t` or `\n` on a shell
// command line as well as literally.
func unescapeSeparator(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\\`, `\`).Replace(s)
}

// trimLineEnding removes a trailing "\n" or "\r\n".
func trimLineEnding(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

// flagWasSet reports whether name was given on the command line.
func flagWasSet(fs *flagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// runProduce is `gregor produce`, the console producer: one record per stdin
// line, all acknowledged before it returns.
func runProduce(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("produce", "gregor produce --topic T [--key-separator SEP] [--null-marker M] [--property k=v]... [--headers k1:v1,k2:v2] [--acks all|1|0] [--compression c] [--partition N] [--value-schema-id N | --value-schema[-file] S [--schema-type T]] [--key-schema-id N | --key-schema[-file] S] [--schema-registry-url URL] < lines")
	fs.about = "Writes one record per stdin line, like kafka-console-producer.sh. A keyed record's partition is\n" +
		"chosen as Kafka's Java client chooses it (murmur2 over the key; kcat's default partitioner differs).\n" +
		"With --value-schema-id (--key-schema-id) each value (key) is JSON — Avro's JSON encoding, Protobuf's\n" +
		"first message in proto3 JSON, or a JSON Schema document — encoded with that registry schema and framed\n" +
		"in Confluent's wire format, like kafka-avro-console-producer; --value-schema (--key-schema) gives the\n" +
		"schema instead, registered under <topic>-value (<topic>-key) as Confluent's value.schema."
	bootstrap := addBootstrapFlag(fs)
	topic := fs.String("topic", "", "topic to produce to")
	keySeparator := fs.String("key-separator", "\t", "giving this flag turns on key parsing: each line is key, `SEP`, value")
	headers := fs.String("headers", "", "headers `k1:v1,k2:v2` to add to every record")
	parseHeadersFlag := fs.Bool("parse-headers", false, "each line starts with headers k1:v1,k2:v2 (or NO_HEADERS) and a tab")
	acks := fs.String("acks", "all", "acknowledgements to wait for: all (-1), 1 or 0")
	compression := fs.String("compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	partition := fs.Int("partition", -1, "produce every record to this partition; -1 lets the partitioner choose by key")
	lingerMs := fs.Int("linger-ms", 0, "how long to wait for a batch to fill, in milliseconds")
	maxRequestSize := fs.Int("max-request-size", defaultMaxRequestSize, "largest record batch in bytes")
	nullMarker := fs.String("null-marker", "", "a key or value equal to this `text` is null (a value of null is a tombstone); Kafka's null.marker")
	schemas := addSchemaFlags(fs)
	var props stringList
	fs.Var(&props, "property", "a console-producer property `key=value`: parse.key, key.separator, parse.headers, null.marker, "+schemaProperties+" (repeatable)")
	if err := parseTopicFlags(fs, args, stdout, stderr, topic); err != nil {
		return err
	}
	format := lineFormat{parseHeaders: *parseHeadersFlag, nullMarker: *nullMarker, schemas: schemas}
	if flagWasSet(fs, "key-separator") {
		format.parseKey = true
		format.keySeparator = unescapeSeparator(*keySeparator)
		if format.keySeparator == "" {
			return usageErrorf("--key-separator must not be empty")
		}
	}
	if err := applyProducerProperties(&format, props); err != nil {
		return err
	}
	var err error
	if format.staticHeaders, err = parseHeaders(*headers); err != nil {
		return usageErrorf("--headers: %v", err)
	}
	compressionCodec, err := parseCompression(*compression)
	if err != nil {
		return err
	}
	ackOpts, err := producerAckOpts(*acks)
	if err != nil {
		return err
	}
	if *maxRequestSize <= 0 || *maxRequestSize > 1<<30 {
		return usageErrorf("--max-request-size must be between 1 and 1 GiB")
	}
	// NB: after every other flag is checked, since it may register schemas.
	codec, err := schemas.codec(ctx, *topic, format.parseKey)
	if err != nil {
		return err
	}
	opts := append(ackOpts,
		kgo.DefaultProduceTopic(*topic),
		kgo.ProducerBatchCompression(compressionCodec),
		kgo.ProducerBatchMaxBytes(int32(*maxRequestSize)),
		kgo.ProducerLinger(time.Duration(*lingerMs)*time.Millisecond),
		kgo.AllowAutoTopicCreation(),
		// NB: a record that cannot be delivered within --timeout fails the
		// command rather than being retried forever.
		kgo.RecordDeliveryTimeout(bootstrap.timeout),
	)
	if *partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := newClient(ctx, bootstrap, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := checkProduceTopic(ctx, cl, *topic, bootstrap.timeout); err != nil {
		return err
	}

	var (
		mu       sync.Mutex
		firstErr error
		failed   int
		sent     int
	)
	promise := func(_ *kgo.Record, err error) {
		if err == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if failed == 0 {
			firstErr = err
		}
		failed++
	}

	stopReading := make(chan struct{})
	defer close(stopReading)
	lines, readErrs := readLines(stdin, stopReading)
	var lineErr error
	interrupted := false
loop:
	for lineNumber := 1; ; lineNumber++ {
		select {
		case <-ctx.Done():
			interrupted = true
			break loop
		case line, ok := <-lines:
			if !ok {
				lineErr = <-readErrs
				break loop
			}
			r, err := parseLine(line, format)
			if err != nil {
				lineErr = usageErrorf("line %d: %v", lineNumber, err)
				break loop
			}
			if codec != nil {
				if err := schemas.encode(ctx, codec, r); err != nil {
					lineErr = fmt.Errorf("line %d: %w", lineNumber, err)
					break loop
				}
			}
			if *partition >= 0 {
				r.Partition = int32(*partition)
			}
			cl.Produce(ctx, r, promise)
			sent++
		}
	}

	flushCtx := ctx
	if interrupted {
		// NB: Ctrl-C still delivers what was read, but only for a bounded time.
		var cancel context.CancelFunc
		flushCtx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
	}
	if err := cl.Flush(flushCtx); err != nil {
		return fmt.Errorf("waiting for acknowledgements: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if failed > 0 {
		fmt.Fprintf(stderr, "%d of %d records failed\n", failed, sent)
		return explainTopicError(*topic, firstErr, "")
	}
	return lineErr
}

// readLines reads r line by line on its own goroutine, without a line length
// limit, sending each line without its ending. When r is exhausted the lines
// channel is closed and the read error (nil at EOF) is sent on errs. Closing
// stop makes the goroutine quit at its next line.
//
// NB: a read from a terminal cannot be interrupted, so on Ctrl-C the caller
// stops listening and a goroutine blocked in Read ends with the process.
func readLines(r io.Reader, stop <-chan struct{}) (lines <-chan []byte, errs <-chan error) {
	lineCh := make(chan []byte, 64)
	errCh := make(chan error, 1)
	go func() {
		defer close(lineCh)
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				select {
				case lineCh <- trimLineEnding(line):
				case <-stop:
					errCh <- nil
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				} else {
					err = fmt.Errorf("reading stdin: %w", err)
				}
				errCh <- err
				return
			}
		}
	}()
	return lineCh, errCh
}

// checkProduceTopic asks the broker for topic's metadata the way Kafka's
// producer does, allowing auto-creation: with auto.create.topics.enable=true the
// broker creates the topic; otherwise an unknown topic is an error at once
// rather than records retried until they time out.
func checkProduceTopic(ctx context.Context, cl *kgo.Client, topic string, timeout time.Duration) error {
	err := topicMetadataError(ctx, cl, topic, true, timeout)
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("%w (the broker does not auto-create topics; create it with `gregor topics create --topic %s`)",
			explainTopicError(topic, err, ""), topic)
	}
	if err != nil && !kerr.IsRetriable(err) {
		return explainTopicError(topic, err, "")
	}
	return nil
}

// topicMetadataError asks the broker, within timeout, for topic's metadata and returns the error
// code it answers for the topic (nil when it exists), or the request's error.
func topicMetadataError(ctx context.Context, cl *kgo.Client, topic string, autoCreate bool, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	reqTopic := kmsg.NewMetadataRequestTopic()
	reqTopic.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, reqTopic)
	req.AllowAutoTopicCreation = autoCreate
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		if t.Topic != nil && *t.Topic == topic {
			return kerr.ErrorForCode(t.ErrorCode)
		}
	}
	return nil
}
