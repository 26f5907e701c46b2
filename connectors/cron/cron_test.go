package cron_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	_ "github.com/gregor-streams/gregor/connectors/cron"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testconnect"
	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func startWorker(t *testing.T, tb *testbroker.Broker, offsetsFile string) *connect.Runner {
	t.Helper()
	return testconnect.StartStandalone(t, tb.Addr(), nil, offsetsFile, nil)
}

func rest(t *testing.T, w *connect.Runner, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+w.Addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func cronConfig(pg *testpg.Server, db string, extra ...string) map[string]string {
	cfg := map[string]string{
		"connector.class":                "CronQuerySource",
		"connection.url":                 fmt.Sprintf("jdbc:postgresql://%s:%d/%s", pg.Host, pg.Port, db),
		"connection.user":                pg.User,
		"schedule":                       "@every 1s",
		"value.converter":                connect.JSONConverterClass,
		"value.converter.schemas.enable": "false",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		cfg[extra[i]] = extra[i+1]
	}
	return cfg
}

func createConnector(t *testing.T, w *connect.Runner, name string, cfg map[string]string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "config": cfg})
	if code, resp := rest(t, w, "POST", "/connectors", string(body)); code != http.StatusCreated {
		t.Fatalf("POST /connectors %s: %d %s", name, code, resp)
	}
}

// topicValues reads every record of topic (up to its end offsets) and returns the values.
func topicValues(t *testing.T, tb *testbroker.Broker, topic string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	var out []string
	for int64(len(out)) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s", len(out), want, topic)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}

// ids extracts "id" of each JSON value, sorted.
func ids(t *testing.T, values []string) []int {
	t.Helper()
	var out []int
	for _, v := range values {
		var row struct{ ID int }
		if err := json.Unmarshal([]byte(v), &row); err != nil {
			t.Fatalf("value %s: %v", v, err)
		}
		out = append(out, row.ID)
	}
	sort.Ints(out)
	return out
}

// waitForLaterRun waits until a connector whose query contains match has run it again and finished:
// pg_stat_activity shows its session idle after a query that started later than any before the
// call. What that run emitted was handed to Kafka as its query returned, so a test can then check
// that later runs emitted nothing, without sleeping.
func waitForLaterRun(t *testing.T, pg *testpg.Server, db, match string) {
	t.Helper()
	conn := pg.Connect(t, db)
	defer conn.Close(context.Background())
	latest := func(idleOnly bool) time.Time {
		var ts *time.Time
		err := conn.QueryRow(context.Background(), `SELECT max(query_start) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'
			AND (NOT $2 OR state = 'idle')`, match, idleOnly).Scan(&ts)
		if err != nil {
			t.Fatal(err)
		}
		if ts == nil {
			return time.Time{}
		}
		return *ts
	}
	before := latest(false)
	testutil.CheckFor(t, 20*time.Second, 25*time.Millisecond, func() error {
		if !latest(true).After(before) {
			return fmt.Errorf("no run of a query with %q has finished since %v", match, before)
		}
		return nil
	})
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestCronIncrementingEmitsEachNewRowOnceAcrossAWorkerRestart(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL, price numeric(8,2), added timestamp DEFAULT '2024-05-06 07:08:09.123')`,
		`INSERT INTO items (name, price) SELECT 'item' || i, i * 1.5 FROM generate_series(1, 3) i`)
	tb := testbroker.Start(t)
	offsets := filepath.Join(t.TempDir(), "connect.offsets")
	cfg := cronConfig(pg, db, "table", "items", "mode", "incrementing", "incrementing.column.name", "id", "topic", "items")
	w := startWorker(t, tb, offsets)
	createConnector(t, w, "items-cron", cfg)
	waitIDs := func(want []int) {
		t.Helper()
		var got []int
		testutil.CheckFor(t, 20*time.Second, 25*time.Millisecond, func() error {
			got = ids(t, topicValues(t, tb, "items"))
			if len(got) < len(want) {
				return fmt.Errorf("ids %v on the topic", want)
			}
			return nil
		})
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("topic ids = %v, want %v", got, want)
		}
	}
	waitIDs(seq(1, 3))
	// The row's columns are the record's fields, with Connect types.
	var first map[string]any
	json.Unmarshal([]byte(topicValues(t, tb, "items")[0]), &first)
	if first["name"] != "item1" || first["price"] != "1.50" || first["added"] != float64(1714979289123) {
		t.Errorf("first record = %v, want name item1, price \"1.50\", added 1714979289123 (epoch ms)", first)
	}

	pg.Exec(t, db, `INSERT INTO items (name) VALUES ('item4'), ('item5')`)
	waitIDs(seq(1, 5))
	// Later runs find nothing new and emit nothing.
	waitForLaterRun(t, pg, db, "items")
	waitIDs(seq(1, 5))

	// The stored offset: partition {"table": "items"}, offset at the last id with its run's fire time.
	var stored struct {
		Offsets []struct {
			Partition map[string]any `json:"partition"`
			Offset    map[string]any `json:"offset"`
		} `json:"offsets"`
	}
	testutil.CheckFor(t, 10*time.Second, 25*time.Millisecond, func() error {
		_, body := rest(t, w, "GET", "/connectors/items-cron/offsets", "")
		json.Unmarshal([]byte(body), &stored)
		if !(len(stored.Offsets) == 1 && stored.Offsets[0].Offset["incrementing"] == float64(5)) {
			return errors.New("offset of id 5 stored")
		}
		return nil
	})
	if p, o := stored.Offsets[0].Partition, stored.Offsets[0].Offset; len(p) != 1 || p["table"] != "items" ||
		o["last_fire"] == nil || time.Since(time.UnixMilli(int64(o["last_fire"].(float64)))) > time.Minute {
		t.Errorf("stored offset = %v → %v, want {table: items} → {incrementing: 5, last_fire: a recent epoch ms}", p, o)
	}

	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, db, `INSERT INTO items (name) VALUES ('item6'), ('item7')`)
	w = startWorker(t, tb, offsets)
	createConnector(t, w, "items-cron", cfg)
	waitIDs(seq(1, 7))
	waitForLaterRun(t, pg, db, "items")
	waitIDs(seq(1, 7))
}

func TestCronTimestampIncrementingAndBulkModes(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE orders (id int PRIMARY KEY, status text, updated_at timestamptz NOT NULL)`,
		`INSERT INTO orders VALUES (1, 'new', '2024-01-01T00:00:00Z'), (2, 'new', '2024-01-01T00:00:00Z'), (3, 'new', '2024-01-02T00:00:00Z')`)
	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	createConnector(t, w, "orders-cron", cronConfig(pg, db, "query", "SELECT id, status, updated_at FROM orders",
		"mode", "timestamp+incrementing", "timestamp.column.name", "updated_at", "incrementing.column.name", "id", "topic", "orders",
		"schedule", "* * * * * *"))
	createConnector(t, w, "orders-bulk", cronConfig(pg, db, "table", "public.orders", "topic", "orders-bulk", "mode", "bulk",
		"schedule", "CRON_TZ=Europe/Berlin */2 * * * * *"))
	testutil.CheckFor(t, 20*time.Second, 25*time.Millisecond, func() error {
		if len(topicValues(t, tb, "orders")) != 3 {
			return errors.New("3 rows on orders")
		}
		return nil
	})
	// An update stamped at the same time as an emitted row but with a higher id, and one later.
	pg.Exec(t, db, `INSERT INTO orders VALUES (4, 'new', '2024-01-02T00:00:00Z')`, `UPDATE orders SET status = 'paid', updated_at = now() WHERE id = 1`)
	var got []string
	testutil.CheckFor(t, 20*time.Second, 25*time.Millisecond, func() error {
		got = topicValues(t, tb, "orders")
		if len(got) < 5 {
			return errors.New("5 records on orders")
		}
		return nil
	})
	// Later runs of the timestamp+incrementing query emit nothing more.
	waitForLaterRun(t, pg, db, "updated_at")
	got = topicValues(t, tb, "orders")
	if gotIDs := ids(t, got); fmt.Sprint(gotIDs) != "[1 1 2 3 4]" {
		t.Fatalf("orders ids = %v (%q), want [1 1 2 3 4]", gotIDs, got)
	}
	if !strings.Contains(got[4], `"paid"`) {
		t.Errorf("last record %s is not the update to paid", got[4])
	}
	// Bulk re-reads the whole table each run: after two runs at least twice its rows.
	testutil.CheckFor(t, 20*time.Second, 25*time.Millisecond, func() error {
		if len(topicValues(t, tb, "orders-bulk")) < 8 {
			return errors.New("two bulk runs")
		}
		return nil
	})
}

func TestCronFailingQueryFailsTheTaskWithTheSQLError(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	createConnector(t, w, "bad-query", cronConfig(pg, db, "query", "SELECT * FROM no_such_table", "topic", "t"))
	var s struct {
		Tasks []struct{ State, Trace string } `json:"tasks"`
	}
	testutil.CheckFor(t, 20*time.Second, 25*time.Millisecond, func() error {
		_, body := rest(t, w, "GET", "/connectors/bad-query/status", "")
		json.Unmarshal([]byte(body), &s)
		if !(len(s.Tasks) > 0 && s.Tasks[0].State == "FAILED") {
			return errors.New("task FAILED")
		}
		return nil
	})
	t.Logf("trace: %s", s.Tasks[0].Trace)
	if !strings.Contains(s.Tasks[0].Trace, `relation "no_such_table" does not exist`) || !strings.Contains(s.Tasks[0].Trace, "42P01") {
		t.Errorf("trace %q lacks Postgres's error", s.Tasks[0].Trace)
	}
}

func TestCronBadScheduleIsA400NamingSchedule(t *testing.T) {
	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	for _, spec := range []string{"every second", "61 * * * *", "CRON_TZ=Nowhere/City * * * * *", "CRON_TZ=UTC", "* * * 30 2 *"} {
		cfg := map[string]string{"name": "bad-schedule", "connector.class": "CronQuerySource", "connection.url": "postgres://h/d", "query": "SELECT 1",
			"topic": "t", "schedule": spec}
		body, _ := json.Marshal(cfg)
		code, resp := rest(t, w, "PUT", "/connector-plugins/CronQuerySource/config/validate", string(body))
		var infos connect.ConfigInfos
		if code != http.StatusOK || json.Unmarshal([]byte(resp), &infos) != nil || infos.ErrorCount == 0 {
			t.Errorf("validate schedule %q: %d %s, want errors", spec, code, resp)
		}
		for _, c := range infos.Configs {
			if len(c.Value.Errors) > 0 && c.Value.Name != "schedule" {
				t.Errorf("validate schedule %q: unexpected error on %s: %v", spec, c.Value.Name, c.Value.Errors)
			}
		}
		body, _ = json.Marshal(map[string]any{"name": "bad-schedule", "config": cfg})
		code, resp = rest(t, w, "POST", "/connectors", string(body))
		if code != http.StatusBadRequest || !strings.Contains(resp, "schedule") {
			t.Errorf("create with schedule %q: %d %s, want 400 naming schedule", spec, code, resp)
		}
	}
}

// TestCronSourceIntoPostgresSinkCopiesRowsWithTheirTypes runs the two connectors of issue 6 back
// to back: rows become struct records with Connect schemas (logical types for date and timestamp),
// and the sink recreates the table with the same column types and values.
func TestCronSourceIntoPostgresSinkCopiesRowsWithTheirTypes(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE src (id bigint PRIMARY KEY, name text, qty int, small smallint, price double precision,
			born date, seen timestamp, flag boolean, data bytea)`,
		`INSERT INTO src VALUES (1, 'a', 10, 1, 1.5, '1990-02-03', '2024-05-06 07:08:09.123', true, '\x00ff'),
			(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
			(3, 'ünïcödé ''q''', -7, -2, -0.25, '2038-01-19', '1970-01-01 00:00:00', false, '')`)
	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	createConnector(t, w, "src-cron", cronConfig(pg, db, "table", "src", "mode", "incrementing", "incrementing.column.name", "id",
		"topic", "copy", "value.converter.schemas.enable", "true"))
	createConnector(t, w, "dst-sink", map[string]string{
		"connector.class": "PostgresSink", "topics": "copy", "table.name.format": "dst",
		"connection.url": pg.URL(db), "auto.create": "true", "insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id",
		"value.converter": connect.JSONConverterClass, "value.converter.schemas.enable": "true",
	})
	q := func(table string) string {
		return `SELECT id, name, qty, small, price, born::text, seen::text, flag, encode(data, 'hex') FROM ` + table + ` ORDER BY id`
	}
	want := rowsOf(t, pg, db, q("src"))
	if len(want) != 3 {
		t.Fatalf("src rows = %q", want)
	}
	var got []string
	testutil.CheckFor(t, 20*time.Second, 25*time.Millisecond, func() error {
		got = rowsOf(t, pg, db, q("dst"))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return errors.New("dst to equal src")
		}
		return nil
	})
	types := rowsOf(t, pg, db, `SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_name = 'dst' ORDER BY ordinal_position`)
	wantTypes := "[id bigint name text qty integer small smallint price double precision born date seen timestamp without time zone flag boolean data bytea]"
	if fmt.Sprint(types) != wantTypes {
		t.Errorf("dst columns = %v, want %s", types, wantTypes)
	}
	// The records carry the Connect schema, with Kafka's logical types.
	values := topicValues(t, tb, "copy")
	t.Logf("first record: %s", values[0])
	for _, want := range []string{`"name":"org.apache.kafka.connect.data.Timestamp"`, `"name":"org.apache.kafka.connect.data.Date"`, `"type":"int32"`, `"name":"src"`} {
		if !strings.Contains(values[0], want) {
			t.Errorf("record %s lacks %s", values[0], want)
		}
	}
}

// rowsOf renders a query's rows as "|"-joined values (NULL as ∅), failing the test on error.
func rowsOf(t *testing.T, pg *testpg.Server, db, query string) []string {
	t.Helper()
	conn := pg.Connect(t, db)
	rs, err := conn.Query(context.Background(), query)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil // not created yet
		}
		t.Fatalf("%s: %v", query, err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
			if v == nil {
				parts[i] = "∅"
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}
