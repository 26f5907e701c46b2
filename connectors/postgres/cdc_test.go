package postgres_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/big"
	"math/rand"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/jackc/pgx/v5"
)

// decimalString decodes a Connect Decimal (base64 two's complement) at a scale.
func decimalString(v any, scale int) string {
	s, ok := v.(string)
	if !ok {
		return "<nil>"
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "<bad>"
	}
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	r := new(big.Rat).SetFrac(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
	return r.FloatString(scale)
}

// modelTable is a test table with the rows the test believes it holds.
type modelTable struct {
	name     string // schema.table
	topic    string
	full     bool // REPLICA IDENTITY FULL
	keyCol   string
	rows     map[string]map[string]string // key → column → value ("<nil>" for null)
	nextKey  int
	newRow   func(r *rand.Rand, key string) map[string]string
	insert   func(key string, row map[string]string) (string, []any)
	update   func(r *rand.Rand, key string, row map[string]string) (map[string]string, string, []any)
	fromJSON func(img map[string]any) map[string]string
}

type expected struct {
	op            string
	before, after map[string]string
}

func TestSnapshotThenTenThousandChangesArriveInCommitOrderPerKey(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db,
		`CREATE TABLE customers (id int PRIMARY KEY, name text, score int)`,
		`CREATE TABLE orders (id bigint PRIMARY KEY, customer int NOT NULL, amount numeric(10,2), note text)`,
		`ALTER TABLE orders REPLICA IDENTITY FULL`,
		`CREATE SCHEMA inventory`,
		`CREATE TABLE inventory.items (sku text PRIMARY KEY, qty int)`,
	)
	rnd := rand.New(rand.NewSource(42))
	const prefix = "shop"
	customers := &modelTable{name: "public.customers", topic: prefix + ".public.customers", keyCol: "id", rows: map[string]map[string]string{},
		newRow: func(r *rand.Rand, key string) map[string]string {
			return map[string]string{"id": key, "name": fmt.Sprintf("cust-%s-%d", key, r.Intn(1000)), "score": fmt.Sprint(r.Intn(100))}
		},
		insert: func(key string, row map[string]string) (string, []any) {
			return `INSERT INTO customers (id, name, score) VALUES ($1::int, $2, $3::int)`, []any{key, row["name"], row["score"]}
		},
		update: func(r *rand.Rand, key string, row map[string]string) (map[string]string, string, []any) {
			n := map[string]string{"id": key, "name": row["name"], "score": fmt.Sprint(r.Intn(1000))}
			return n, `UPDATE customers SET score = $2::int WHERE id = $1::int`, []any{key, n["score"]}
		},
		fromJSON: func(img map[string]any) map[string]string {
			return map[string]string{"id": fmt.Sprint(num(img["id"])), "name": str(img["name"]), "score": scoreString(img["score"])}
		},
	}
	orders := &modelTable{name: "public.orders", topic: prefix + ".public.orders", full: true, keyCol: "id", rows: map[string]map[string]string{},
		newRow: func(r *rand.Rand, key string) map[string]string {
			return map[string]string{"id": key, "customer": fmt.Sprint(r.Intn(50)), "amount": fmt.Sprintf("%d.%02d", r.Intn(10000)-5000, r.Intn(100)), "note": "n" + key}
		},
		insert: func(key string, row map[string]string) (string, []any) {
			return `INSERT INTO orders (id, customer, amount, note) VALUES ($1::bigint, $2::int, $3::numeric, $4)`, []any{key, row["customer"], row["amount"], row["note"]}
		},
		update: func(r *rand.Rand, key string, row map[string]string) (map[string]string, string, []any) {
			n := map[string]string{"id": key, "customer": row["customer"], "amount": fmt.Sprintf("%d.%02d", r.Intn(10000), r.Intn(100)), "note": row["note"] + "+"}
			return n, `UPDATE orders SET amount = $2::numeric, note = $3 WHERE id = $1::bigint`, []any{key, n["amount"], n["note"]}
		},
		fromJSON: func(img map[string]any) map[string]string {
			return map[string]string{"id": fmt.Sprint(num(img["id"])), "customer": fmt.Sprint(num(img["customer"])), "amount": decimalString(img["amount"], 2), "note": str(img["note"])}
		},
	}
	items := &modelTable{name: "inventory.items", topic: prefix + ".inventory.items", keyCol: "sku", rows: map[string]map[string]string{},
		newRow: func(r *rand.Rand, key string) map[string]string {
			return map[string]string{"sku": key, "qty": fmt.Sprint(r.Intn(500))}
		},
		insert: func(key string, row map[string]string) (string, []any) {
			return `INSERT INTO inventory.items (sku, qty) VALUES ($1, $2::int)`, []any{key, row["qty"]}
		},
		update: func(r *rand.Rand, key string, row map[string]string) (map[string]string, string, []any) {
			n := map[string]string{"sku": key, "qty": fmt.Sprint(r.Intn(500))}
			return n, `UPDATE inventory.items SET qty = $2::int WHERE sku = $1`, []any{key, n["qty"]}
		},
		fromJSON: func(img map[string]any) map[string]string {
			return map[string]string{"sku": str(img["sku"]), "qty": scoreString(img["qty"])}
		},
	}
	tables := []*modelTable{customers, orders, items}
	keyOf := func(mt *modelTable) string {
		mt.nextKey++
		if mt == items {
			return fmt.Sprintf("sku-%05d", mt.nextKey)
		}
		return fmt.Sprint(mt.nextKey)
	}
	conn := pg.Connect(t, db)
	ctx := context.Background()
	want := map[string][]expected{} // topic/key → events in order
	for _, mt := range tables {
		for i := 0; i < 40; i++ {
			k := keyOf(mt)
			row := mt.newRow(rnd, k)
			q, args := mt.insert(k, row)
			if _, err := conn.Exec(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
			mt.rows[k] = row
			want[mt.topic+"/"+k] = append(want[mt.topic+"/"+k], expected{op: "r", after: row})
		}
	}

	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	createConnector(t, w.Addr, "shop-cdc", cdcConfig(pg, db, prefix))
	c := newConsumer(t, tb, customers.topic, orders.topic, items.topic)
	c.waitFor(60*time.Second, "120 snapshot events", func(ev []event) bool { return len(ev) >= 120 })
	snapshotLast := 0
	for _, e := range c.events[:120] {
		if e.op() != "r" {
			t.Fatalf("snapshot event %s op %q, want r", e.ValueRaw, e.op())
		}
		src := e.Value["source"].(map[string]any)
		if src["snapshot"] == "last" {
			snapshotLast++
		} else if src["snapshot"] != "true" {
			t.Fatalf("snapshot event source.snapshot = %v", src["snapshot"])
		}
	}
	if snapshotLast != 1 {
		t.Errorf("%d snapshot events marked last, want 1", snapshotLast)
	}

	// 10,000 changes in transactions of 1 to 20 changes.
	changes, txns := 0, 0
	for changes < 10_000 {
		batch := &pgx.Batch{}
		n := 1 + rnd.Intn(20)
		for i := 0; i < n && changes < 10_000; i++ {
			mt := tables[rnd.Intn(len(tables))]
			keys := make([]string, 0, len(mt.rows))
			for k := range mt.rows {
				keys = append(keys, k)
			}
			op := rnd.Intn(10)
			switch {
			case op < 4 || len(keys) < 5:
				k := keyOf(mt)
				row := mt.newRow(rnd, k)
				q, args := mt.insert(k, row)
				batch.Queue(q, args...)
				mt.rows[k] = row
				want[mt.topic+"/"+k] = append(want[mt.topic+"/"+k], expected{op: "c", after: row})
			case op < 8:
				k := keys[rnd.Intn(len(keys))]
				old := mt.rows[k]
				row, q, args := mt.update(rnd, k, old)
				batch.Queue(q, args...)
				mt.rows[k] = row
				var before map[string]string
				if mt.full {
					before = old
				}
				want[mt.topic+"/"+k] = append(want[mt.topic+"/"+k], expected{op: "u", before: before, after: row})
			default:
				k := keys[rnd.Intn(len(keys))]
				old := mt.rows[k]
				batch.Queue(fmt.Sprintf("DELETE FROM %s WHERE %s = $1", mt.name, mt.keyCol), k)
				delete(mt.rows, k)
				before := old
				if !mt.full {
					before = map[string]string{}
					for col := range old {
						before[col] = "<nil>"
					}
					before[mt.keyCol] = k
				}
				want[mt.topic+"/"+k] = append(want[mt.topic+"/"+k], expected{op: "d", before: before}, expected{op: "tombstone"})
			}
			changes++
		}
		if err := conn.SendBatch(ctx, batch).Close(); err != nil {
			t.Fatalf("transaction %d: %v", txns, err)
		}
		txns++
	}
	total := 0
	for _, l := range want {
		total += len(l)
	}
	start := time.Now()
	c.waitFor(120*time.Second, fmt.Sprintf("%d events", total), func(ev []event) bool { return len(ev) >= total })
	t.Logf("%d changes in %d transactions: %d events (incl. snapshot and tombstones) on the topics %v after the last commit", changes, txns, total, time.Since(start).Round(time.Millisecond))
	c.poll(300 * time.Millisecond) // anything extra would be a duplicate
	if len(c.events) != total {
		t.Errorf("%d events on the topics, want exactly %d", len(c.events), total)
	}

	got := map[string][]expected{}
	byTopic := map[string]*modelTable{}
	for _, mt := range tables {
		byTopic[mt.topic] = mt
	}
	for _, e := range c.events {
		mt := byTopic[e.Topic]
		k := str(e.Key[mt.keyCol])
		if mt.keyCol == "id" {
			k = fmt.Sprint(num(e.Key["id"]))
		}
		ex := expected{op: e.op()}
		if e.Value != nil {
			if b, ok := e.Value["before"].(map[string]any); ok {
				ex.before = mt.fromJSON(b)
			}
			if a, ok := e.Value["after"].(map[string]any); ok {
				ex.after = mt.fromJSON(a)
			}
		}
		got[e.Topic+"/"+k] = append(got[e.Topic+"/"+k], ex)
	}
	bad := 0
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			bad++
			if bad <= 5 {
				t.Errorf("events of %s:\n got  %v\n want %v", k, got[k], w)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d keys have wrong events", bad, len(want))
	}
}

func scoreString(v any) string {
	if v == nil {
		return "<nil>"
	}
	return fmt.Sprint(num(v))
}
