package postgres_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	_ "github.com/gregor-streams/gregor/connectors/postgres"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/gregor-streams/gregor/internal/testutil"
)

func sinkProps(pg *testpg.Server, db, topic string, extra ...string) map[string]string {
	cfg := map[string]string{
		"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
		"connection.url":  fmt.Sprintf("jdbc:postgresql://%s:%d/%s", pg.Host, pg.Port, db),
		"connection.user": pg.User,
		"topics":          topic,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		cfg[extra[i]] = extra[i+1]
	}
	return cfg
}

// sinkSchemaRecord renders a JsonConverter envelope of an orders row {id int64, item string, qty
// int32 optional, paid boolean}.
func sinkSchemaRecord(id int, item string, qty *int, paid bool) string {
	q := "null"
	if qty != nil {
		q = fmt.Sprint(*qty)
	}
	return fmt.Sprintf(`{"schema":{"type":"struct","name":"orders","optional":false,"fields":[`+
		`{"field":"id","type":"int64","optional":false},{"field":"item","type":"string","optional":false},`+
		`{"field":"qty","type":"int32","optional":true},{"field":"paid","type":"boolean","optional":false}]},`+
		`"payload":{"id":%d,"item":%q,"qty":%s,"paid":%v}}`, id, item, q, paid)
}

func sinkIntp(i int) *int { return &i }

func TestSinkInsertsSchemaRecordsIntoAnAutoCreatedTable(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	tb := testbroker.Start(t)
	sinkTopics(t, tb, "orders")
	sinkProduce(t, tb, "orders",
		sinkKV{value: sinkSchemaRecord(1, "apple", sinkIntp(3), true)},
		sinkKV{value: sinkSchemaRecord(2, "pear", nil, false)},
		sinkKV{value: sinkSchemaRecord(3, "fig, \"dried\"", sinkIntp(-1), true)})
	w := sinkWorker(t, tb, "")
	sinkCreate(t, w, "orders-sink", sinkProps(pg, db, "orders",
		"value.converter.schemas.enable", "true", "auto.create", "true",
		"pk.mode", "record_value", "pk.fields", "id"))
	sinkWaitRows(t, pg, db, `SELECT id, item, qty, paid FROM orders ORDER BY id`,
		`1|apple|3|true`, `2|pear|∅|false`, `3|fig, "dried"|-1|true`)

	// The table's columns follow the Connect schema: types, nullability and the primary key.
	got := sinkRows(t, pg, db, `SELECT column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_name = 'orders' ORDER BY ordinal_position`)
	want := []string{"id|bigint|NO", "item|text|NO", "qty|integer|YES", "paid|boolean|NO"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("columns = %q, want %q", got, want)
	}
	pk := sinkRows(t, pg, db, `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = 'orders'::regclass AND i.indisprimary`)
	if strings.Join(pk, ",") != "id" {
		t.Errorf("primary key = %q, want id", pk)
	}

	// More records later are inserted too; offsets are committed once they are in the table.
	sinkProduce(t, tb, "orders", sinkKV{value: sinkSchemaRecord(4, "kiwi", sinkIntp(7), false)})
	sinkWaitRows(t, pg, db, `SELECT id, item FROM orders WHERE id = 4`, `4|kiwi`)
	testutil.CheckFor(t, 10*time.Second, 25*time.Millisecond, func() error {
		if sinkCommitted(t, tb, "orders-sink", "orders") != 4 {
			return errors.New("offset 4 committed")
		}
		return nil
	})
}

func TestSinkUpsertByRecordKeyKeepsTheLastValuePerKey(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE accounts (id bigint PRIMARY KEY, owner text, balance numeric(10,2), tags text[], meta jsonb)`,
		`INSERT INTO accounts VALUES (1, 'ann', 10), (9, 'zed', 99)`)
	tb := testbroker.Start(t)
	sinkTopics(t, tb, "accounts")
	// Key 1 exists and is updated; key 2 is inserted, then updated twice in the same batch.
	sinkProduce(t, tb, "accounts",
		sinkKV{`{"id":1}`, `{"owner":"ann","balance":15.5}`},
		sinkKV{`{"id":2}`, `{"owner":"bob","balance":1}`},
		sinkKV{`{"id":2}`, `{"owner":"bob","balance":2}`},
		sinkKV{`{"id":2}`, `{"owner":"bobby","balance":3.25,"tags":["vip","x,y"],"meta":{"since":2020}}`})
	w := sinkWorker(t, tb, "")
	sinkCreate(t, w, "accounts-sink", sinkProps(pg, db, "accounts", "insert.mode", "upsert", "pk.mode", "record_key"))
	sinkWaitRows(t, pg, db, `SELECT id, owner, balance::text FROM accounts ORDER BY id`,
		`1|ann|15.50`, `2|bobby|3.25`, `9|zed|99.00`)
	sinkWaitRows(t, pg, db, `SELECT tags::text, meta::text FROM accounts WHERE id = 2`, `{vip,"x,y"}|{"since": 2020}`)
	sinkProduce(t, tb, "accounts", sinkKV{`{"id":9}`, `{"owner":"zoe","balance":0}`})
	sinkWaitRows(t, pg, db, `SELECT id, owner, balance::text FROM accounts ORDER BY id`,
		`1|ann|15.50`, `2|bobby|3.25`, `9|zoe|0.00`)
}

func TestSinkUpdateModeChangesOnlyExistingRows(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE stock (sku text PRIMARY KEY, count int NOT NULL, note text)`,
		`INSERT INTO stock VALUES ('a', 1, 'x'), ('b', 2, 'y')`)
	tb := testbroker.Start(t)
	sinkTopics(t, tb, "stock")
	sinkProduce(t, tb, "stock",
		sinkKV{value: `{"sku":"a","count":10,"note":null}`},
		sinkKV{value: `{"sku":"c","count":30,"note":"new"}`}, // no row c: nothing happens
		sinkKV{value: `{"sku":"b","count":20,"note":"y2"}`},
		sinkKV{value: `{"sku":"end","count":0,"note":"marker"}`})
	pg.Exec(t, db, `INSERT INTO stock VALUES ('end', -1, '')`)
	w := sinkWorker(t, tb, "")
	sinkCreate(t, w, "stock-sink", sinkProps(pg, db, "stock", "insert.mode", "update", "pk.mode", "record_value", "pk.fields", "sku"))
	sinkWaitRows(t, pg, db, `SELECT sku, count, note FROM stock ORDER BY sku`,
		`a|10|∅`, `b|20|y2`, `end|0|marker`)
}

func TestSinkPrimaryKeyModes(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	tb := testbroker.Start(t)
	sinkTopics(t, tb, "events", "clicks", "codes")
	w := sinkWorker(t, tb, "")

	// pk.mode=none: every record is a new row, even with equal values; no primary key.
	sinkProduce(t, tb, "events", sinkKV{value: `{"name":"x","n":1}`}, sinkKV{value: `{"name":"x","n":1}`})
	sinkCreate(t, w, "events-sink", sinkProps(pg, db, "events", "auto.create", "true"))
	sinkWaitRows(t, pg, db, `SELECT name, n FROM events`, `x|1`, `x|1`)

	// pk.mode=kafka: the key is topic, partition and offset.
	sinkProduce(t, tb, "clicks", sinkKV{value: `{"page":"/a"}`}, sinkKV{value: `{"page":"/b"}`})
	sinkCreate(t, w, "clicks-sink", sinkProps(pg, db, "clicks", "auto.create", "true", "pk.mode", "kafka", "table.name.format", "kafka_${topic}"))
	sinkWaitRows(t, pg, db, `SELECT __connect_topic, __connect_partition, __connect_offset, page FROM kafka_clicks ORDER BY 3`,
		`clicks|0|0|/a`, `clicks|0|1|/b`)

	// pk.mode=record_key with a primitive (string) key: pk.fields names its column.
	sinkProduce(t, tb, "codes", sinkKV{"EUR", `{"rate":1.0}`}, sinkKV{"USD", `{"rate":1.1}`}, sinkKV{"EUR", `{"rate":0.9}`})
	cfg := sinkProps(pg, db, "codes", "auto.create", "true", "insert.mode", "upsert", "pk.mode", "record_key", "pk.fields", "code",
		"key.converter", "org.apache.kafka.connect.storage.StringConverter")
	sinkCreate(t, w, "codes-sink", cfg)
	sinkWaitRows(t, pg, db, `SELECT code, rate FROM codes ORDER BY code`, `EUR|0.9`, `USD|1.1`)
}

func TestSinkAutoEvolveAddsNullableColumnsAndWithoutItFailsNamingTheColumn(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	tb := testbroker.Start(t)
	sinkTopics(t, tb, "people", "pets")
	sinkProduce(t, tb, "people", sinkKV{`{"id":1}`, `{"name":"ann"}`})
	w := sinkWorker(t, tb, "")
	sinkCreate(t, w, "people-sink", sinkProps(pg, db, "people", "auto.create", "true", "auto.evolve", "true",
		"insert.mode", "upsert", "pk.mode", "record_key"))
	sinkWaitRows(t, pg, db, `SELECT id, name FROM people`, `1|ann`)
	sinkProduce(t, tb, "people", sinkKV{`{"id":2}`, `{"name":"bob","email":"bob@x","age":40}`})
	sinkWaitRows(t, pg, db, `SELECT id, name, email, age FROM people ORDER BY id`, `1|ann|∅|∅`, `2|bob|bob@x|40`)
	got := sinkRows(t, pg, db, `SELECT column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_name = 'people' AND column_name IN ('email', 'age') ORDER BY column_name`)
	if want := "age|bigint|YES,email|text|YES"; strings.Join(got, ",") != want {
		t.Errorf("added columns = %q, want %s", got, want)
	}

	pg.Exec(t, db, `CREATE TABLE pets (name text)`)
	sinkProduce(t, tb, "pets", sinkKV{value: `{"name":"rex","species":"dog"}`})
	sinkCreate(t, w, "pets-sink", sinkProps(pg, db, "pets"))
	trace := sinkWaitFailed(t, w, "pets-sink")
	t.Logf("trace: %s", trace)
	for _, want := range []string{`"pets"`, `"species"`, "auto.evolve"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace %q does not name %s", trace, want)
		}
	}
}

func TestSinkDeleteEnabledTurnsTombstonesIntoDeletes(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	tb := testbroker.Start(t)
	sinkTopics(t, tb, "users")
	sinkProduce(t, tb, "users",
		sinkKV{`{"id":1}`, `{"name":"ann"}`},
		sinkKV{`{"id":2}`, `{"name":"bob"}`},
		sinkKV{`{"id":3}`, `{"name":"cy"}`},
		sinkKV{`{"id":2}`, sinkTombstone},
		sinkKV{`{"id":4}`, sinkTombstone}) // no such row: nothing happens
	w := sinkWorker(t, tb, "")
	sinkCreate(t, w, "users-sink", sinkProps(pg, db, "users", "auto.create", "true", "insert.mode", "upsert",
		"pk.mode", "record_key", "delete.enabled", "true"))
	sinkWaitRows(t, pg, db, `SELECT id, name FROM users ORDER BY id`, `1|ann`, `3|cy`)
	// A key deleted and written again in one batch ends up written.
	sinkProduce(t, tb, "users", sinkKV{`{"id":1}`, sinkTombstone}, sinkKV{`{"id":3}`, sinkTombstone}, sinkKV{`{"id":3}`, `{"name":"cyd"}`})
	sinkWaitRows(t, pg, db, `SELECT id, name FROM users ORDER BY id`, `3|cyd`)

	// delete.enabled needs the key: with pk.mode=record_value the connector fails at start.
	sinkCreate(t, w, "bad-delete", sinkProps(pg, db, "users", "pk.mode", "record_value", "delete.enabled", "true"))
	if trace := sinkWaitFailed(t, w, "bad-delete"); !strings.Contains(trace, "delete.enabled") || !strings.Contains(trace, "record_key") {
		t.Errorf("trace %q does not explain delete.enabled needs pk.mode=record_key", trace)
	}
}

// sinkDebeziumEvent renders a schemaless Debezium change event for table inventory.customers.
func sinkDebeziumEvent(op string, before, after string) string {
	return fmt.Sprintf(`{"before":%s,"after":%s,"source":{"version":"2.7.0.Final","connector":"postgresql","name":"dbserver1",`+
		`"db":"inventory","schema":"inventory","table":"customers","lsn":123},"op":%q,"ts_ms":1700000000000,"transaction":null}`,
		before, after, op)
}

func TestSinkAppliesDebeziumEnvelopes(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	tb := testbroker.Start(t)
	topic := "dbserver1.inventory.customers"
	sinkTopics(t, tb, topic)
	sinkProduce(t, tb, topic,
		sinkKV{`{"id":1001}`, sinkDebeziumEvent("r", "null", `{"id":1001,"first_name":"Sally","email":"sally@x"}`)},
		sinkKV{`{"id":1002}`, sinkDebeziumEvent("r", "null", `{"id":1002,"first_name":"George","email":"gb@x"}`)},
		sinkKV{`{"id":1003}`, sinkDebeziumEvent("c", "null", `{"id":1003,"first_name":"Edward","email":"ed@x"}`)},
		sinkKV{`{"id":1001}`, sinkDebeziumEvent("u", `{"id":1001,"first_name":"Sally","email":"sally@x"}`, `{"id":1001,"first_name":"Sally","email":"sally@new"}`)},
		sinkKV{`{"id":1002}`, sinkDebeziumEvent("d", `{"id":1002,"first_name":"George","email":"gb@x"}`, "null")},
		sinkKV{`{"id":1002}`, sinkTombstone})
	w := sinkWorker(t, tb, "")
	sinkCreate(t, w, "cdc-sink", sinkProps(pg, db, topic,
		"connector.class", "io.debezium.connector.jdbc.JdbcSinkConnector",
		"insert.mode", "upsert", "primary.key.mode", "record_key", "delete.enabled", "true", "schema.evolution", "basic"))
	// Debezium's topic has dots: the table is its name with underscores.
	q := `SELECT id, first_name, email FROM dbserver1_inventory_customers ORDER BY id`
	sinkWaitRows(t, pg, db, q, `1001|Sally|sally@new`, `1003|Edward|ed@x`)

	// Events with Connect schemas (JsonConverter schemas.enable=true) work the same.
	row := `{"type":"struct","optional":true,"name":"dbserver1.inventory.customers.Value","fields":[{"field":"id","type":"int32"},` +
		`{"field":"first_name","type":"string"},{"field":"email","type":"string"}]}`
	keySchema := `{"type":"struct","name":"dbserver1.inventory.customers.Key","fields":[{"field":"id","type":"int32"}]}`
	withSchema := func(op, before, after string) string {
		fields := `[{"field":"before",` + strings.TrimPrefix(row, "{") + `,{"field":"after",` + strings.TrimPrefix(row, "{") + `,{"field":"op","type":"string"}]`
		return `{"schema":{"type":"struct","name":"dbserver1.inventory.customers.Envelope","fields":` + fields + `},` +
			`"payload":{"before":` + before + `,"after":` + after + `,"op":"` + op + `"}}`
	}
	key := func(id int) string { return fmt.Sprintf(`{"schema":%s,"payload":{"id":%d}}`, keySchema, id) }
	topic2 := "dbserver1.inventory.customers2"
	sinkTopics(t, tb, topic2)
	sinkProduce(t, tb, topic2,
		sinkKV{key(1), withSchema("c", "null", `{"id":1,"first_name":"a","email":"a@x"}`)},
		sinkKV{key(2), withSchema("c", "null", `{"id":2,"first_name":"b","email":"b@x"}`)},
		sinkKV{key(1), withSchema("u", `{"id":1,"first_name":"a","email":"a@x"}`, `{"id":1,"first_name":"a","email":"a@y"}`)},
		sinkKV{key(2), withSchema("d", `{"id":2,"first_name":"b","email":"b@x"}`, "null")})
	cfg := sinkProps(pg, db, topic2, "insert.mode", "upsert", "pk.mode", "record_key", "delete.enabled", "true", "auto.create", "true",
		"key.converter.schemas.enable", "true", "value.converter.schemas.enable", "true", "table.name.format", "customers_schemaful")
	sinkCreate(t, w, "cdc-sink-schemas", cfg)
	sinkWaitRows(t, pg, db, `SELECT id, first_name, email FROM customers_schemaful ORDER BY id`, `1|a|a@y`)
}

func TestSinkBatchFailingMidwayLeavesTableAndOffsetsUnchanged(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE payments (id bigint PRIMARY KEY, amount integer NOT NULL)`)
	tb := testbroker.Start(t)
	sinkTopics(t, tb, "payments")
	var recs []sinkKV
	for i := 1; i <= 10; i++ {
		amount := fmt.Sprint(i * 100)
		if i == 6 {
			amount = `"a lot"`
		}
		recs = append(recs, sinkKV{value: fmt.Sprintf(`{"id":%d,"amount":%s}`, i, amount)})
	}
	sinkProduce(t, tb, "payments", recs...)
	w := sinkWorker(t, tb, "")
	sinkCreate(t, w, "payments-sink", sinkProps(pg, db, "payments", "pk.mode", "record_value", "pk.fields", "id", "batch.size", "4"))
	trace := sinkWaitFailed(t, w, "payments-sink")
	t.Logf("trace: %s", trace)
	for _, want := range []string{`"payments"`, `"amount"`, "a lot"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace %q does not name %s", trace, want)
		}
	}
	if got := sinkRows(t, pg, db, `SELECT count(*) FROM payments`); got[0] != "0" {
		t.Errorf("payments has %s rows after the failed batch, want 0", got[0])
	}
	if o := sinkCommitted(t, tb, "payments-sink", "payments"); o != -1 {
		t.Errorf("committed offset = %d after the failed batch, want none", o)
	}

	// A value too long for varchar(3) fails too: it is never silently truncated.
	pg.Exec(t, db, `CREATE TABLE currencies (code varchar(3) PRIMARY KEY, name text, symbol char(2))`)
	sinkTopics(t, tb, "currencies")
	sinkProduce(t, tb, "currencies", sinkKV{value: `{"code":"EUR","name":"euro","symbol":"€"}`}, sinkKV{value: `{"code":"DOLLAR","name":"dollar","symbol":"$"}`})
	sinkCreate(t, w, "currencies-sink", sinkProps(pg, db, "currencies", "pk.mode", "record_value", "pk.fields", "code"))
	trace = sinkWaitFailed(t, w, "currencies-sink")
	t.Logf("trace: %s", trace)
	for _, want := range []string{`"currencies"`, `"code" (character varying(3))`, "too long"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace %q does not name %s", trace, want)
		}
	}
	if got := sinkRows(t, pg, db, `SELECT count(*) FROM currencies`); got[0] != "0" {
		t.Errorf("currencies has %s rows after the failed batch, want 0", got[0])
	}
	// Values that fit are written whole (char(n) is not cut to one character).
	sinkTopics(t, tb, "currencies-ok")
	sinkProduce(t, tb, "currencies-ok", sinkKV{value: `{"code":"EUR","name":"euro","symbol":"€"}`}, sinkKV{value: `{"code":"USD","name":"dollar","symbol":"US"}`})
	sinkCreate(t, w, "currencies-ok", sinkProps(pg, db, "currencies-ok", "pk.mode", "record_value", "pk.fields", "code",
		"table.name.format", "currencies"))
	sinkWaitRows(t, pg, db, `SELECT code, name, symbol FROM currencies ORDER BY code`, `EUR|euro|€ `, `USD|dollar|US`)
}

// With errors.retry.timeout set, a lost connection is retried instead: that connector catches up by
// itself once Postgres is back.
func TestSinkFailsOnLostConnectionAndRestartAfterPostgresIsBackLosesNothing(t *testing.T) {
	pg := testpg.StartDedicated(t)
	db := pg.NewDatabase(t)
	// insert mode over a primary key: a record written twice would fail the task, so the test
	// also shows the restart duplicates nothing.
	pg.Exec(t, db, `CREATE TABLE readings (id bigint PRIMARY KEY, value text NOT NULL)`,
		`CREATE TABLE retried (id bigint PRIMARY KEY, value text NOT NULL)`)
	tb := testbroker.Start(t)
	sinkTopics(t, tb, "readings", "retried")
	batch := func(from, to int) []sinkKV {
		var out []sinkKV
		for i := from; i <= to; i++ {
			out = append(out, sinkKV{value: fmt.Sprintf(`{"id":%d,"value":"v%d"}`, i, i)})
		}
		return out
	}
	want := func(n int) []string {
		var out []string
		for i := 1; i <= n; i++ {
			out = append(out, fmt.Sprintf("%d|v%d", i, i))
		}
		return out
	}
	q := `SELECT id, value FROM readings ORDER BY id`
	w := sinkWorker(t, tb, "")
	sinkProduce(t, tb, "readings", batch(1, 100)...)
	sinkCreate(t, w, "readings-sink", sinkProps(pg, db, "readings", "pk.mode", "record_value", "pk.fields", "id"))
	sinkWaitRows(t, pg, db, q, want(100)...)
	// A second connector retries Puts that lost the connection (errors.retry.timeout).
	sinkProduce(t, tb, "retried", batch(1, 10)...)
	sinkCreate(t, w, "retried-sink", sinkProps(pg, db, "retried", "pk.mode", "record_value", "pk.fields", "id",
		"errors.retry.timeout", "60000", "errors.retry.delay.max.ms", "300"))
	qRetried := `SELECT id, value FROM retried ORDER BY id`
	sinkWaitRows(t, pg, db, qRetried, want(10)...)

	pg.Halt(t)
	sinkProduce(t, tb, "readings", batch(101, 250)...)
	sinkProduce(t, tb, "retried", batch(11, 20)...)
	trace := sinkWaitFailed(t, w, "readings-sink")
	t.Logf("trace: %s", trace)
	if !strings.Contains(trace, "connection to postgres://") || !strings.Contains(trace, "lost") {
		t.Errorf("trace %q does not name the lost connection", trace)
	}

	if s := sinkStatus(t, w, "retried-sink"); s.Tasks[0].State != "RUNNING" {
		t.Errorf("retrying task state = %s (%s), want RUNNING", s.Tasks[0].State, s.Tasks[0].Trace)
	}

	pg.Resume(t)
	// The retrying connector catches up on its own.
	sinkWaitRows(t, pg, db, qRetried, want(20)...)
	sinkProduce(t, tb, "readings", batch(251, 300)...)
	if code, body := sinkREST(t, w, "POST", "/connectors/readings-sink/tasks/0/restart", ""); code != 204 && code != 200 {
		t.Fatalf("restart task: %d %s", code, body)
	}
	sinkWaitRows(t, pg, db, q, want(300)...)
	if s := sinkStatus(t, w, "readings-sink"); s.Tasks[0].State != "RUNNING" {
		t.Errorf("task state after restart = %s (%s), want RUNNING", s.Tasks[0].State, s.Tasks[0].Trace)
	}
	testutil.CheckFor(t, 10*time.Second, 25*time.Millisecond, func() error {
		if sinkCommitted(t, tb, "readings-sink", "readings") != 300 {
			return errors.New("offset 300 committed")
		}
		return nil
	})
}

func TestSinkConfigErrorsNameTheKey(t *testing.T) {
	tb := testbroker.Start(t)
	w := sinkWorker(t, tb, "")
	code, body := sinkREST(t, w, "POST", "/connectors", `{"name":"s","config":{"connector.class":"PostgresSink","topics":"t",`+
		`"connection.url":"jdbc:mysql://h/d","insert.mode":"merge"}}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "connection.url") || !strings.Contains(body, "insert.mode") {
		t.Errorf("bad url and insert.mode: %d %s, want 400 naming connection.url and insert.mode", code, body)
	}
	// Combinations are checked when the connector starts: it fails, saying what to change.
	for name, extra := range map[string][]string{
		"upsert-no-pk":    {"insert.mode", "upsert"},
		"delete-no-key":   {"delete.enabled", "true", "pk.mode", "record_value"},
		"kafka-pk-fields": {"pk.mode", "kafka", "pk.fields", "a"},
	} {
		cfg := map[string]string{"connector.class": "PostgresSink", "topics": "t", "connection.url": "postgres://127.0.0.1:1/d"}
		for i := 0; i+1 < len(extra); i += 2 {
			cfg[extra[i]] = extra[i+1]
		}
		sinkCreate(t, w, name, cfg)
		trace := sinkWaitFailed(t, w, name)
		t.Logf("%s: %s", name, trace)
		if !strings.Contains(trace, extra[0]) && !strings.Contains(trace, extra[len(extra)-2]) {
			t.Errorf("%s: trace %q does not name %s", name, trace, extra[0])
		}
	}
}
