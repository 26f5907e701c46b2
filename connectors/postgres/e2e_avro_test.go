package postgres_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/schemaregistry"
	"github.com/gregor-streams/gregor/schemaregistry/connectconv"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// TestCDCThroughTheBrokerIntoTheSinkWithAvroConverters is issue 14's Connect acceptance: the
// CDC → sink end-to-end run (smaller, plus changes after the snapshot is surely over) with
// io.confluent.connect.avro.AvroConverter for keys and values against a registry on the same
// broker. B equals A, column types included, so Debezium's envelope and logical types survive
// Avro; and a plain franz-go consumer decodes every CDC record through the registry with pkg/sr's
// Serde: snapshot reads, streamed creates, updates and deletes, the last image of each account
// equal to A's row.
func TestCDCThroughTheBrokerIntoTheSinkWithAvroConverters(t *testing.T) {
	const seedRows, changes, changesAfter = 200, 500, 500
	tb := testbroker.Start(t)
	reg, err := schemaregistry.Start(context.Background(), schemaregistry.Config{BootstrapServers: []string{tb.Addr()}, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	w := runCDCToSinkE2E(t, e2eRun{seedRows: seedRows, changes: changes, changesAfter: changesAfter, tb: tb, converters: map[string]string{
		"key.converter":                       connectconv.AvroConverterClass,
		"key.converter.schema.registry.url":   reg.URL(),
		"value.converter":                     connectconv.AvroConverterClass,
		"value.converter.schema.registry.url": reg.URL(),
	}})

	// The franz-go side: every record of the accounts topic decodes through the registry.
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	var (
		serde   sr.Serde
		mu      sync.Mutex
		known   = map[int]bool{}
		decoded int
	)
	decode := func(b []byte) (map[string]any, error) {
		var h sr.ConfluentHeader
		id, _, err := h.DecodeID(b)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if !known[id] {
			s, err := cl.SchemaByID(context.Background(), id)
			if err != nil {
				return nil, err
			}
			schema, err := avro.ParseWithCache(s.Schema, "", &avro.SchemaCache{})
			if err != nil {
				return nil, err
			}
			serde.Register(id, map[string]any{}, sr.DecodeFn(func(b []byte, v any) error { return avro.Unmarshal(schema, b, v) }))
			known[id] = true
		}
		var m map[string]any
		err = serde.Decode(b, &m)
		return m, err
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumeTopics("e2e.public.accounts"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	adm := sinkKafka(t, tb)
	ends, err := kadmEnds(adm, "e2e.public.accounts")
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	lastAfter := map[int64]map[string]any{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for read := int64(0); read < ends; {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("consume after %d of %d records: %v", read, ends, err)
		}
		for _, r := range fs.Records() {
			read++
			if r.Value == nil {
				continue // tombstone
			}
			key, err := decode(r.Key)
			if err != nil {
				t.Fatalf("key at offset %d: %v", r.Offset, err)
			}
			v, err := decode(r.Value)
			if err != nil {
				t.Fatalf("value at offset %d: %v", r.Offset, err)
			}
			decoded++
			op, _ := v["op"].(string)
			ops[op]++
			id, _ := key["id"].(int64)
			if after, ok := v["after"].(map[string]any); ok {
				lastAfter[id] = after["e2e.public.accounts.Value"].(map[string]any)
			} else {
				delete(lastAfter, id)
			}
		}
	}
	if ops["r"] < seedRows || ops["c"] == 0 || ops["u"] == 0 || ops["d"] == 0 {
		t.Errorf("decoded operations %v: want at least %d snapshot reads and some streamed creates, updates and deletes", ops, seedRows)
	}
	mismatches := 0
	for id, after := range lastAfter {
		var owner string
		if err := w.conn.QueryRow(context.Background(), `SELECT owner FROM accounts WHERE id = $1`, id).Scan(&owner); err != nil || owner != after["owner"] {
			mismatches++
			if mismatches <= 3 {
				t.Errorf("account %d: A has owner %q (%v), the last Avro image %v", id, owner, err, after["owner"])
			}
		}
	}
	t.Logf("franz-go decoded %d Avro CDC values through the registry (%d schemas, operations %v); %d accounts checked against A", decoded, len(known), ops, len(lastAfter))
}

// kadmEnds returns the sum of a topic's partitions' end offsets (its record count: nothing is
// deleted or compacted in these tests).
func kadmEnds(cl *kgo.Client, topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var total int64
	var firstErr error
	ends.Each(func(o kadm.ListedOffset) {
		total += o.Offset
		if o.Err != nil && firstErr == nil {
			firstErr = fmt.Errorf("end offset of %s-%d: %w", topic, o.Partition, o.Err)
		}
	})
	return total, firstErr
}
