package postgres_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	_ "github.com/gregor-streams/gregor/connectors/postgres"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testpg"
)

func sinkConfig(pg *testpg.Server, db, topic string, extra ...string) map[string]string {
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

// schemaRecord renders a JsonConverter envelope of an orders row {id int64, item string, qty
// int32 optional, paid boolean}.
func schemaRecord(id int, item string, qty *int, paid bool) string {
	q := "null"
	if qty != nil {
		q = fmt.Sprint(*qty)
	}
	return fmt.Sprintf(`{"schema":{"type":"struct","name":"orders","optional":false,"fields":[`+
		`{"field":"id","type":"int64","optional":false},{"field":"item","type":"string","optional":false},`+
		`{"field":"qty","type":"int32","optional":true},{"field":"paid","type":"boolean","optional":false}]},`+
		`"payload":{"id":%d,"item":%q,"qty":%s,"paid":%v}}`, id, item, q, paid)
}

func intp(i int) *int { return &i }

func TestSinkInsertsSchemaRecordsIntoAnAutoCreatedTable(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	tb := testbroker.Start(t)
	createTopic(t, tb, "orders")
	produce(t, tb, "orders",
		kv{value: schemaRecord(1, "apple", intp(3), true)},
		kv{value: schemaRecord(2, "pear", nil, false)},
		kv{value: schemaRecord(3, "fig, \"dried\"", intp(-1), true)})
	w := startWorker(t, tb, "")
	createConnector(t, w, "orders-sink", sinkConfig(pg, db, "orders",
		"value.converter.schemas.enable", "true", "auto.create", "true",
		"pk.mode", "record_value", "pk.fields", "id"))
	waitRows(t, pg, db, `SELECT id, item, qty, paid FROM orders ORDER BY id`,
		`1|apple|3|true`, `2|pear|∅|false`, `3|fig, "dried"|-1|true`)

	// The table's columns follow the Connect schema: types, nullability and the primary key.
	got := rows(t, pg, db, `SELECT column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_name = 'orders' ORDER BY ordinal_position`)
	want := []string{"id|bigint|NO", "item|text|NO", "qty|integer|YES", "paid|boolean|NO"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("columns = %q, want %q", got, want)
	}
	pk := rows(t, pg, db, `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = 'orders'::regclass AND i.indisprimary`)
	if strings.Join(pk, ",") != "id" {
		t.Errorf("primary key = %q, want id", pk)
	}

	// More records later are inserted too; offsets are committed once they are in the table.
	produce(t, tb, "orders", kv{value: schemaRecord(4, "kiwi", intp(7), false)})
	waitRows(t, pg, db, `SELECT id, item FROM orders WHERE id = 4`, `4|kiwi`)
	eventually(t, 10*time.Second, "offset 4 committed", func() bool { return committed(t, tb, "orders-sink", "orders") == 4 })
}

func TestSinkUpsertByRecordKeyKeepsTheLastValuePerKey(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE accounts (id bigint PRIMARY KEY, owner text, balance numeric(10,2), tags text[], meta jsonb)`,
		`INSERT INTO accounts VALUES (1, 'ann', 10), (9, 'zed', 99)`)
	tb := testbroker.Start(t)
	createTopic(t, tb, "accounts")
	// Key 1 exists and is updated; key 2 is inserted, then updated twice in the same batch.
	produce(t, tb, "accounts",
		kv{`{"id":1}`, `{"owner":"ann","balance":15.5}`},
		kv{`{"id":2}`, `{"owner":"bob","balance":1}`},
		kv{`{"id":2}`, `{"owner":"bob","balance":2}`},
		kv{`{"id":2}`, `{"owner":"bobby","balance":3.25,"tags":["vip","x,y"],"meta":{"since":2020}}`})
	w := startWorker(t, tb, "")
	createConnector(t, w, "accounts-sink", sinkConfig(pg, db, "accounts", "insert.mode", "upsert", "pk.mode", "record_key"))
	waitRows(t, pg, db, `SELECT id, owner, balance::text FROM accounts ORDER BY id`,
		`1|ann|15.50`, `2|bobby|3.25`, `9|zed|99.00`)
	waitRows(t, pg, db, `SELECT tags::text, meta::text FROM accounts WHERE id = 2`, `{vip,"x,y"}|{"since": 2020}`)
	produce(t, tb, "accounts", kv{`{"id":9}`, `{"owner":"zoe","balance":0}`})
	waitRows(t, pg, db, `SELECT id, owner, balance::text FROM accounts ORDER BY id`,
		`1|ann|15.50`, `2|bobby|3.25`, `9|zoe|0.00`)
}

func TestSinkUpdateModeChangesOnlyExistingRows(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE stock (sku text PRIMARY KEY, count int NOT NULL, note text)`,
		`INSERT INTO stock VALUES ('a', 1, 'x'), ('b', 2, 'y')`)
	tb := testbroker.Start(t)
	createTopic(t, tb, "stock")
	produce(t, tb, "stock",
		kv{value: `{"sku":"a","count":10,"note":null}`},
		kv{value: `{"sku":"c","count":30,"note":"new"}`}, // no row c: nothing happens
		kv{value: `{"sku":"b","count":20,"note":"y2"}`},
		kv{value: `{"sku":"end","count":0,"note":"marker"}`})
	pg.Exec(t, db, `INSERT INTO stock VALUES ('end', -1, '')`)
	w := startWorker(t, tb, "")
	createConnector(t, w, "stock-sink", sinkConfig(pg, db, "stock", "insert.mode", "update", "pk.mode", "record_value", "pk.fields", "sku"))
	waitRows(t, pg, db, `SELECT sku, count, note FROM stock ORDER BY sku`,
		`a|10|∅`, `b|20|y2`, `end|0|marker`)
}

func TestSinkPrimaryKeyModes(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	tb := testbroker.Start(t)
	createTopic(t, tb, "events", "clicks", "codes")
	w := startWorker(t, tb, "")

	// pk.mode=none: every record is a new row, even with equal values; no primary key.
	produce(t, tb, "events", kv{value: `{"name":"x","n":1}`}, kv{value: `{"name":"x","n":1}`})
	createConnector(t, w, "events-sink", sinkConfig(pg, db, "events", "auto.create", "true"))
	waitRows(t, pg, db, `SELECT name, n FROM events`, `x|1`, `x|1`)

	// pk.mode=kafka: the key is topic, partition and offset.
	produce(t, tb, "clicks", kv{value: `{"page":"/a"}`}, kv{value: `{"page":"/b"}`})
	createConnector(t, w, "clicks-sink", sinkConfig(pg, db, "clicks", "auto.create", "true", "pk.mode", "kafka", "table.name.format", "kafka_${topic}"))
	waitRows(t, pg, db, `SELECT __connect_topic, __connect_partition, __connect_offset, page FROM kafka_clicks ORDER BY 3`,
		`clicks|0|0|/a`, `clicks|0|1|/b`)

	// pk.mode=record_key with a primitive (string) key: pk.fields names its column.
	produce(t, tb, "codes", kv{"EUR", `{"rate":1.0}`}, kv{"USD", `{"rate":1.1}`}, kv{"EUR", `{"rate":0.9}`})
	cfg := sinkConfig(pg, db, "codes", "auto.create", "true", "insert.mode", "upsert", "pk.mode", "record_key", "pk.fields", "code",
		"key.converter", "org.apache.kafka.connect.storage.StringConverter")
	createConnector(t, w, "codes-sink", cfg)
	waitRows(t, pg, db, `SELECT code, rate FROM codes ORDER BY code`, `EUR|0.9`, `USD|1.1`)
}

func TestSinkAutoEvolveAddsNullableColumnsAndWithoutItFailsNamingTheColumn(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	tb := testbroker.Start(t)
	createTopic(t, tb, "people", "pets")
	produce(t, tb, "people", kv{`{"id":1}`, `{"name":"ann"}`})
	w := startWorker(t, tb, "")
	createConnector(t, w, "people-sink", sinkConfig(pg, db, "people", "auto.create", "true", "auto.evolve", "true",
		"insert.mode", "upsert", "pk.mode", "record_key"))
	waitRows(t, pg, db, `SELECT id, name FROM people`, `1|ann`)
	produce(t, tb, "people", kv{`{"id":2}`, `{"name":"bob","email":"bob@x","age":40}`})
	waitRows(t, pg, db, `SELECT id, name, email, age FROM people ORDER BY id`, `1|ann|∅|∅`, `2|bob|bob@x|40`)
	got := rows(t, pg, db, `SELECT column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_name = 'people' AND column_name IN ('email', 'age') ORDER BY column_name`)
	if want := "age|bigint|YES,email|text|YES"; strings.Join(got, ",") != want {
		t.Errorf("added columns = %q, want %s", got, want)
	}

	pg.Exec(t, db, `CREATE TABLE pets (name text)`)
	produce(t, tb, "pets", kv{value: `{"name":"rex","species":"dog"}`})
	createConnector(t, w, "pets-sink", sinkConfig(pg, db, "pets"))
	trace := waitTaskFailed(t, w, "pets-sink")
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
	createTopic(t, tb, "users")
	produce(t, tb, "users",
		kv{`{"id":1}`, `{"name":"ann"}`},
		kv{`{"id":2}`, `{"name":"bob"}`},
		kv{`{"id":3}`, `{"name":"cy"}`},
		kv{`{"id":2}`, tombstone},
		kv{`{"id":4}`, tombstone}) // no such row: nothing happens
	w := startWorker(t, tb, "")
	createConnector(t, w, "users-sink", sinkConfig(pg, db, "users", "auto.create", "true", "insert.mode", "upsert",
		"pk.mode", "record_key", "delete.enabled", "true"))
	waitRows(t, pg, db, `SELECT id, name FROM users ORDER BY id`, `1|ann`, `3|cy`)
	// A key deleted and written again in one batch ends up written.
	produce(t, tb, "users", kv{`{"id":1}`, tombstone}, kv{`{"id":3}`, tombstone}, kv{`{"id":3}`, `{"name":"cyd"}`})
	waitRows(t, pg, db, `SELECT id, name FROM users ORDER BY id`, `3|cyd`)

	// delete.enabled needs the key: with pk.mode=record_value the connector fails at start.
	createConnector(t, w, "bad-delete", sinkConfig(pg, db, "users", "pk.mode", "record_value", "delete.enabled", "true"))
	if trace := waitTaskFailed(t, w, "bad-delete"); !strings.Contains(trace, "delete.enabled") || !strings.Contains(trace, "record_key") {
		t.Errorf("trace %q does not explain delete.enabled needs pk.mode=record_key", trace)
	}
}

// debeziumEvent renders a schemaless Debezium change event for table inventory.customers.
func debeziumEvent(op string, before, after string) string {
	return fmt.Sprintf(`{"before":%s,"after":%s,"source":{"version":"2.7.0.Final","connector":"postgresql","name":"dbserver1",`+
		`"db":"inventory","schema":"inventory","table":"customers","lsn":123},"op":%q,"ts_ms":1700000000000,"transaction":null}`,
		before, after, op)
}

func TestSinkAppliesDebeziumEnvelopes(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	tb := testbroker.Start(t)
	topic := "dbserver1.inventory.customers"
	createTopic(t, tb, topic)
	produce(t, tb, topic,
		kv{`{"id":1001}`, debeziumEvent("r", "null", `{"id":1001,"first_name":"Sally","email":"sally@x"}`)},
		kv{`{"id":1002}`, debeziumEvent("r", "null", `{"id":1002,"first_name":"George","email":"gb@x"}`)},
		kv{`{"id":1003}`, debeziumEvent("c", "null", `{"id":1003,"first_name":"Edward","email":"ed@x"}`)},
		kv{`{"id":1001}`, debeziumEvent("u", `{"id":1001,"first_name":"Sally","email":"sally@x"}`, `{"id":1001,"first_name":"Sally","email":"sally@new"}`)},
		kv{`{"id":1002}`, debeziumEvent("d", `{"id":1002,"first_name":"George","email":"gb@x"}`, "null")},
		kv{`{"id":1002}`, tombstone})
	w := startWorker(t, tb, "")
	createConnector(t, w, "cdc-sink", sinkConfig(pg, db, topic,
		"connector.class", "io.debezium.connector.jdbc.JdbcSinkConnector",
		"insert.mode", "upsert", "primary.key.mode", "record_key", "delete.enabled", "true", "schema.evolution", "basic"))
	// Debezium's topic has dots: the table is its name with underscores.
	q := `SELECT id, first_name, email FROM dbserver1_inventory_customers ORDER BY id`
	waitRows(t, pg, db, q, `1001|Sally|sally@new`, `1003|Edward|ed@x`)

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
	createTopic(t, tb, topic2)
	produce(t, tb, topic2,
		kv{key(1), withSchema("c", "null", `{"id":1,"first_name":"a","email":"a@x"}`)},
		kv{key(2), withSchema("c", "null", `{"id":2,"first_name":"b","email":"b@x"}`)},
		kv{key(1), withSchema("u", `{"id":1,"first_name":"a","email":"a@x"}`, `{"id":1,"first_name":"a","email":"a@y"}`)},
		kv{key(2), withSchema("d", `{"id":2,"first_name":"b","email":"b@x"}`, "null")})
	cfg := sinkConfig(pg, db, topic2, "insert.mode", "upsert", "pk.mode", "record_key", "delete.enabled", "true", "auto.create", "true",
		"key.converter.schemas.enable", "true", "value.converter.schemas.enable", "true", "table.name.format", "customers_schemaful")
	createConnector(t, w, "cdc-sink-schemas", cfg)
	waitRows(t, pg, db, `SELECT id, first_name, email FROM customers_schemaful ORDER BY id`, `1|a|a@y`)
}

func TestSinkBatchFailingMidwayLeavesTableAndOffsetsUnchanged(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE payments (id bigint PRIMARY KEY, amount integer NOT NULL)`)
	tb := testbroker.Start(t)
	createTopic(t, tb, "payments")
	var recs []kv
	for i := 1; i <= 10; i++ {
		amount := fmt.Sprint(i * 100)
		if i == 6 {
			amount = `"a lot"`
		}
		recs = append(recs, kv{value: fmt.Sprintf(`{"id":%d,"amount":%s}`, i, amount)})
	}
	produce(t, tb, "payments", recs...)
	w := startWorker(t, tb, "")
	createConnector(t, w, "payments-sink", sinkConfig(pg, db, "payments", "pk.mode", "record_value", "pk.fields", "id", "batch.size", "4"))
	trace := waitTaskFailed(t, w, "payments-sink")
	t.Logf("trace: %s", trace)
	for _, want := range []string{`"payments"`, `"amount"`, "a lot"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace %q does not name %s", trace, want)
		}
	}
	if got := rows(t, pg, db, `SELECT count(*) FROM payments`); got[0] != "0" {
		t.Errorf("payments has %s rows after the failed batch, want 0", got[0])
	}
	if o := committed(t, tb, "payments-sink", "payments"); o != -1 {
		t.Errorf("committed offset = %d after the failed batch, want none", o)
	}

	// A value too long for varchar(3) fails too: it is never silently truncated.
	pg.Exec(t, db, `CREATE TABLE currencies (code varchar(3) PRIMARY KEY, name text, symbol char(2))`)
	createTopic(t, tb, "currencies")
	produce(t, tb, "currencies", kv{value: `{"code":"EUR","name":"euro","symbol":"€"}`}, kv{value: `{"code":"DOLLAR","name":"dollar","symbol":"$"}`})
	createConnector(t, w, "currencies-sink", sinkConfig(pg, db, "currencies", "pk.mode", "record_value", "pk.fields", "code"))
	trace = waitTaskFailed(t, w, "currencies-sink")
	t.Logf("trace: %s", trace)
	for _, want := range []string{`"currencies"`, `"code" (character varying(3))`, "too long"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace %q does not name %s", trace, want)
		}
	}
	if got := rows(t, pg, db, `SELECT count(*) FROM currencies`); got[0] != "0" {
		t.Errorf("currencies has %s rows after the failed batch, want 0", got[0])
	}
	// Values that fit are written whole (char(n) is not cut to one character).
	createTopic(t, tb, "currencies-ok")
	produce(t, tb, "currencies-ok", kv{value: `{"code":"EUR","name":"euro","symbol":"€"}`}, kv{value: `{"code":"USD","name":"dollar","symbol":"US"}`})
	createConnector(t, w, "currencies-ok", sinkConfig(pg, db, "currencies-ok", "pk.mode", "record_value", "pk.fields", "code",
		"table.name.format", "currencies"))
	waitRows(t, pg, db, `SELECT code, name, symbol FROM currencies ORDER BY code`, `EUR|euro|€ `, `USD|dollar|US`)
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
	createTopic(t, tb, "readings", "retried")
	batch := func(from, to int) []kv {
		var out []kv
		for i := from; i <= to; i++ {
			out = append(out, kv{value: fmt.Sprintf(`{"id":%d,"value":"v%d"}`, i, i)})
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
	w := startWorker(t, tb, "")
	produce(t, tb, "readings", batch(1, 100)...)
	createConnector(t, w, "readings-sink", sinkConfig(pg, db, "readings", "pk.mode", "record_value", "pk.fields", "id"))
	waitRows(t, pg, db, q, want(100)...)
	// A second connector retries Puts that lost the connection (errors.retry.timeout).
	produce(t, tb, "retried", batch(1, 10)...)
	createConnector(t, w, "retried-sink", sinkConfig(pg, db, "retried", "pk.mode", "record_value", "pk.fields", "id",
		"errors.retry.timeout", "60000", "errors.retry.delay.max.ms", "300"))
	qRetried := `SELECT id, value FROM retried ORDER BY id`
	waitRows(t, pg, db, qRetried, want(10)...)

	pg.Halt(t)
	produce(t, tb, "readings", batch(101, 250)...)
	produce(t, tb, "retried", batch(11, 20)...)
	trace := waitTaskFailed(t, w, "readings-sink")
	t.Logf("trace: %s", trace)
	if !strings.Contains(trace, "connection to postgres://") || !strings.Contains(trace, "lost") {
		t.Errorf("trace %q does not name the lost connection", trace)
	}

	if s := status(t, w, "retried-sink"); s.Tasks[0].State != "RUNNING" {
		t.Errorf("retrying task state = %s (%s), want RUNNING", s.Tasks[0].State, s.Tasks[0].Trace)
	}

	pg.Resume(t)
	// The retrying connector catches up on its own.
	waitRows(t, pg, db, qRetried, want(20)...)
	produce(t, tb, "readings", batch(251, 300)...)
	if code, body := rest(t, w, "POST", "/connectors/readings-sink/tasks/0/restart", ""); code != 204 && code != 200 {
		t.Fatalf("restart task: %d %s", code, body)
	}
	waitRows(t, pg, db, q, want(300)...)
	if s := status(t, w, "readings-sink"); s.Tasks[0].State != "RUNNING" {
		t.Errorf("task state after restart = %s (%s), want RUNNING", s.Tasks[0].State, s.Tasks[0].Trace)
	}
	eventually(t, 10*time.Second, "offset 300 committed", func() bool { return committed(t, tb, "readings-sink", "readings") == 300 })
}

func TestSinkConfigErrorsNameTheKey(t *testing.T) {
	tb := testbroker.Start(t)
	w := startWorker(t, tb, "")
	code, body := rest(t, w, "POST", "/connectors", `{"name":"s","config":{"connector.class":"PostgresSink","topics":"t",`+
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
		createConnector(t, w, name, cfg)
		trace := waitTaskFailed(t, w, name)
		t.Logf("%s: %s", name, trace)
		if !strings.Contains(trace, extra[0]) && !strings.Contains(trace, extra[len(extra)-2]) {
			t.Errorf("%s: trace %q does not name %s", name, trace, extra[0])
		}
	}
}
