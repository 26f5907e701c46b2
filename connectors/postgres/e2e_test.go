package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	_ "github.com/gregor-streams/gregor/connect/transforms" // RegexRouter on the sink
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
)

// e2eTable is a table captured in database A and replicated into database B.
type e2eTable struct {
	name string   // table name in public, in both databases
	pk   []string // primary key columns, in key order
	cols []string // every column, primary key first
}

// dump renders every row ordered by primary key, each column as its text form (so numeric scale,
// timestamp microseconds and text are compared exactly) joined by "|", NULL as "∅".
func (tbl *e2eTable) dump(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	sel := make([]string, len(tbl.cols))
	for i, c := range tbl.cols {
		sel[i] = c + "::text"
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s ORDER BY %s",
		strings.Join(sel, ", "), tbl.name, strings.Join(tbl.pk, ", ")))
	if err != nil {
		return nil, fmt.Errorf("dump of %s: %w", tbl.name, err)
	}
	defer rows.Close()
	var out []string
	vals := make([]*string, len(tbl.cols))
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	parts := make([]string, len(vals))
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("dump of %s: %w", tbl.name, err)
		}
		for i, v := range vals {
			if v == nil {
				parts[i] = "∅"
			} else {
				parts[i] = *v
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dump of %s: %w", tbl.name, err)
	}
	return out, nil
}

// firstDifference describes where two dumps part, for a failure message.
func firstDifference(a, b []string) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			short := func(s string) string {
				if len(s) > 300 {
					return s[:150] + "…" + s[len(s)-150:]
				}
				return s
			}
			return fmt.Sprintf("row %d: A %q, B %q", i, short(a[i]), short(b[i]))
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("A has %d rows, B %d", len(a), len(b))
	}
	return "none"
}

// e2eKeys is the set of primary keys a table holds in A, for picking rows to update or delete.
type e2eKeys struct {
	list  [][]any
	index map[string]int
}

func newE2EKeys() *e2eKeys { return &e2eKeys{index: map[string]int{}} }

func (k *e2eKeys) add(key ...any) {
	k.index[fmt.Sprint(key...)] = len(k.list)
	k.list = append(k.list, key)
}

func (k *e2eKeys) remove(key ...any) {
	id := fmt.Sprint(key...)
	i, ok := k.index[id]
	if !ok {
		return
	}
	last := len(k.list) - 1
	k.list[i] = k.list[last]
	k.index[fmt.Sprint(k.list[i]...)] = i
	k.list = k.list[:last]
	delete(k.index, id)
}

func (k *e2eKeys) pick(r *rand.Rand) []any { return k.list[r.Intn(len(k.list))] }

// e2eGen produces random row values of the shapes a user's tables hold: texts with quotes,
// backslashes and non-ASCII letters, numerics of every sign and magnitude at the column's scale
// and beyond it for unconstrained numeric, timestamps with microseconds on both sides of 1970.
type e2eGen struct{ r *rand.Rand }

var e2eTexts = []string{"", "plain", "O'Brien", `back\slash`, `"quoted"`, "tab\there", "line\nbreak", "ünïcödé ✓", "日本語", "emoji 🚀", "  padded  ", "NULL", "a,b;c"}

func (g e2eGen) text() string {
	if g.r.Intn(3) == 0 {
		return fmt.Sprintf("%s-%d", e2eTexts[g.r.Intn(len(e2eTexts))], g.r.Intn(1_000_000))
	}
	return e2eTexts[g.r.Intn(len(e2eTexts))]
}

func (g e2eGen) nullableText() any {
	if g.r.Intn(5) == 0 {
		return nil
	}
	return g.text()
}

// decimal renders a value with exactly scale digits after the point and at most intDigits before.
func (g e2eGen) decimal(intDigits, scale int) string {
	var whole int64
	switch g.r.Intn(6) {
	case 0:
		whole = 0
	case 1: // the largest magnitude the column takes
		whole = pow10(intDigits) - 1
	default:
		whole = g.r.Int63n(pow10(g.r.Intn(intDigits) + 1))
	}
	frac := ""
	if scale > 0 {
		frac = fmt.Sprintf(".%0*d", scale, g.r.Int63n(pow10(scale)))
	}
	sign := ""
	if g.r.Intn(3) == 0 {
		sign = "-"
	}
	return fmt.Sprintf("%s%d%s", sign, whole, frac)
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// timestamp renders an instant between 1950 and 2100 with microseconds, at a random UTC offset.
func (g e2eGen) timestamp() string {
	lo, hi := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	us := lo + g.r.Int63n(hi-lo)
	if g.r.Intn(4) == 0 {
		us -= us % 1_000_000 // whole seconds too
	}
	zone := time.FixedZone("", (g.r.Intn(27)-12)*3600)
	return time.UnixMicro(us).In(zone).Format("2006-01-02 15:04:05.999999-07:00")
}

// document is NULL or a text of 3,000 to 6,000 random characters, too long to stay in the row
// and too random to compress: Postgres TOASTs it.
func (g e2eGen) document() any {
	if g.r.Intn(4) == 0 {
		return nil
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;-_äöü€"
	letters := []rune(alphabet)
	out := make([]rune, 3000+g.r.Intn(3000))
	for i := range out {
		out[i] = letters[g.r.Intn(len(letters))]
	}
	return string(out)
}

// localTimestamp renders a timestamp without time zone between 1950 and 2100, with microseconds.
func (g e2eGen) localTimestamp() string {
	lo, hi := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	return time.UnixMicro(lo + g.r.Int63n(hi-lo)).UTC().Format("2006-01-02 15:04:05.999999")
}

// json renders a small JSON object with nesting, unicode and numbers.
func (g e2eGen) json() string {
	return fmt.Sprintf(`{"n": %d, "s": %q, "a": [1.5, true, null], "o": {"k": "ü"}}`, g.r.Intn(1000), g.text())
}

func (g e2eGen) uuid() string {
	b := make([]byte, 16)
	g.r.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// float is NULL or a double of any magnitude and sign.
func (g e2eGen) float() any {
	if g.r.Intn(6) == 0 {
		return nil
	}
	return (g.r.Float64() - 0.5) * math.Pow(10, float64(g.r.Intn(40)-20))
}

func (g e2eGen) bytes() any {
	if g.r.Intn(6) == 0 {
		return nil
	}
	b := make([]byte, g.r.Intn(40))
	g.r.Read(b)
	return b
}

func (g e2eGen) nullable(v string) any {
	if g.r.Intn(6) == 0 {
		return nil
	}
	return v
}

// e2eWorkload owns database A's two tables and writes random changes to them: inserts, updates
// (some of a primary key, some leaving a TOASTed document alone) and deletes, in transactions.
type e2eWorkload struct {
	t                       testing.TB
	conn                    *pgx.Conn
	g                       e2eGen
	accounts, stock         *e2eTable
	accountKeys, stockKeys  *e2eKeys
	nextID                  int64
	nextSku                 int
	keyChanges, txns, total int
}

var e2eWarehouses = []string{"north", "south", "east", "west", "Zürich", "o'hare"}

func newE2EWorkload(t testing.TB, pg *testpg.Server, db string, seed int64) *e2eWorkload {
	t.Helper()
	pg.Exec(t, db,
		`CREATE TABLE accounts (
			id bigint PRIMARY KEY,
			owner text NOT NULL,
			balance numeric(12,2) NOT NULL,
			active boolean NOT NULL,
			opened_at timestamptz NOT NULL,
			note text,
			document text)`,
		// NB: documents are TOASTed; an update that leaves one alone does not carry it in the WAL.
		// FULL gives the old row, from which the connector fills it in.
		`ALTER TABLE accounts REPLICA IDENTITY FULL`,
		`CREATE TABLE stock (
			warehouse text NOT NULL,
			sku integer NOT NULL,
			qty integer NOT NULL,
			price numeric(10,3),
			weight numeric,
			discontinued boolean,
			checked_at timestamptz,
			label text,
			tags jsonb,
			lot uuid,
			made_on date,
			received_at timestamp,
			ratio double precision,
			code bytea,
			PRIMARY KEY (warehouse, sku))`,
	)
	return &e2eWorkload{
		t: t, conn: pg.Connect(t, db), g: e2eGen{r: rand.New(rand.NewSource(seed))},
		accounts: &e2eTable{name: "accounts", pk: []string{"id"}, cols: []string{"id", "owner", "balance", "active", "opened_at", "note", "document"}},
		stock: &e2eTable{name: "stock", pk: []string{"warehouse", "sku"}, cols: []string{"warehouse", "sku", "qty", "price", "weight", "discontinued", "checked_at", "label",
			"tags", "lot", "made_on", "received_at", "ratio", "code"}},
		accountKeys: newE2EKeys(), stockKeys: newE2EKeys(),
	}
}

func (w *e2eWorkload) tables() []*e2eTable { return []*e2eTable{w.accounts, w.stock} }

func (w *e2eWorkload) insertAccount(b *pgx.Batch) {
	g := w.g
	w.nextID++
	b.Queue(`INSERT INTO accounts VALUES ($1, $2, $3::numeric, $4, $5::timestamptz, $6, $7)`,
		w.nextID, g.text(), g.decimal(10, 2), g.r.Intn(2) == 0, g.timestamp(), g.nullableText(), g.document())
	w.accountKeys.add(w.nextID)
}

func (w *e2eWorkload) insertStock(b *pgx.Batch) {
	g := w.g
	w.nextSku++
	wh := e2eWarehouses[g.r.Intn(len(e2eWarehouses))]
	b.Queue(`INSERT INTO stock VALUES ($1, $2, $3, $4::numeric, $5::numeric, $6, $7::timestamptz, $8,
		$9::jsonb, $10::uuid, $11::date, $12::timestamp, $13, $14)`,
		wh, w.nextSku, g.r.Intn(100_000)-50, g.nullable(g.decimal(7, 3)), g.nullable(g.decimal(g.r.Intn(15)+1, g.r.Intn(8))),
		[]any{nil, true, false}[g.r.Intn(3)], g.nullable(g.timestamp()), g.nullableText(),
		g.nullable(g.json()), g.nullable(g.uuid()), g.nullable(g.localTimestamp()[:10]), g.nullable(g.localTimestamp()), g.float(), g.bytes())
	w.stockKeys.add(wh, w.nextSku)
}

// change queues one random change: 40% inserts, 45% updates, 15% deletes, half on each table.
func (w *e2eWorkload) change(b *pgx.Batch) {
	g := w.g
	if g.r.Intn(2) == 0 {
		op := g.r.Intn(100)
		switch {
		case op < 40 || len(w.accountKeys.list) < 10:
			w.insertAccount(b)
		case op < 85:
			k := w.accountKeys.pick(g.r)
			switch g.r.Intn(3) {
			case 0:
				b.Queue(`UPDATE accounts SET balance = $2::numeric, opened_at = $3::timestamptz WHERE id = $1`, k[0], g.decimal(10, 2), g.timestamp())
			case 1:
				b.Queue(`UPDATE accounts SET active = NOT active, note = $2 WHERE id = $1`, k[0], g.nullableText())
			default:
				if g.r.Intn(10) == 0 {
					b.Queue(`UPDATE accounts SET owner = $2, document = $3 WHERE id = $1`, k[0], g.text(), g.document())
					break
				}
				b.Queue(`UPDATE accounts SET owner = $2, balance = -balance WHERE id = $1`, k[0], g.text())
			}
		default:
			k := w.accountKeys.pick(g.r)
			b.Queue(`DELETE FROM accounts WHERE id = $1`, k[0])
			w.accountKeys.remove(k...)
		}
		return
	}
	op := g.r.Intn(100)
	switch {
	case op < 40 || len(w.stockKeys.list) < 10:
		w.insertStock(b)
	case op < 85:
		k := w.stockKeys.pick(g.r)
		switch g.r.Intn(20) {
		case 0: // a primary key change: Debezium's delete of the old key and create of the new
			w.nextSku++
			b.Queue(`UPDATE stock SET sku = $3 WHERE warehouse = $1 AND sku = $2`, k[0], k[1], w.nextSku)
			w.stockKeys.remove(k...)
			w.stockKeys.add(k[0], w.nextSku)
			w.keyChanges++
		case 1, 2, 3, 4, 5, 6:
			b.Queue(`UPDATE stock SET qty = qty + $3, checked_at = $4::timestamptz WHERE warehouse = $1 AND sku = $2`,
				k[0], k[1], g.r.Intn(21)-10, g.nullable(g.timestamp()))
		default:
			b.Queue(`UPDATE stock SET price = $3::numeric, weight = $4::numeric, discontinued = $5, label = $6,
				tags = $7::jsonb, lot = $8::uuid, made_on = $9::date, received_at = $10::timestamp, ratio = $11, code = $12
				WHERE warehouse = $1 AND sku = $2`,
				k[0], k[1], g.nullable(g.decimal(7, 3)), g.nullable(g.decimal(g.r.Intn(15)+1, g.r.Intn(8))),
				[]any{nil, true, false}[g.r.Intn(3)], g.nullableText(),
				g.nullable(g.json()), g.nullable(g.uuid()), g.nullable(g.localTimestamp()[:10]), g.nullable(g.localTimestamp()), g.float(), g.bytes())
		}
	default:
		k := w.stockKeys.pick(g.r)
		b.Queue(`DELETE FROM stock WHERE warehouse = $1 AND sku = $2`, k...)
		w.stockKeys.remove(k...)
	}
}

// commit runs a batch as one transaction in A.
func (w *e2eWorkload) commit(b *pgx.Batch) {
	w.t.Helper()
	ctx := context.Background()
	tx, err := w.conn.Begin(ctx)
	if err != nil {
		w.t.Fatalf("begin in A: %v", err)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		w.t.Fatalf("transaction in A: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		w.t.Fatalf("commit in A: %v", err)
	}
	w.txns++
}

// seed inserts rows into each table in one transaction.
func (w *e2eWorkload) seed(rows int) {
	b := &pgx.Batch{}
	for range rows {
		w.insertAccount(b)
		w.insertStock(b)
	}
	w.commit(b)
}

// run commits n changes in transactions of 1 to maxPerTxn changes.
func (w *e2eWorkload) run(n, maxPerTxn int) {
	for done := 0; done < n; {
		b := &pgx.Batch{}
		k := min(1+w.g.r.Intn(maxPerTxn), n-done)
		for range k {
			w.change(b)
		}
		w.commit(b)
		done += k
	}
	w.total += n
}

// e2eSinkConfig is the sink of the CDC topics of prefix into database db: upsert by the record
// key, deletes, auto.create, and the table named by the topic's last segment.
func e2eSinkConfig(pg *testpg.Server, db, prefix string) map[string]string {
	return map[string]string{
		"connector.class":              "io.debezium.connector.jdbc.JdbcSinkConnector",
		"connection.url":               fmt.Sprintf("jdbc:postgresql://%s:%d/%s", pg.Host, pg.Port, db),
		"connection.user":              pg.User,
		"topics.regex":                 prefix + `\.public\..+`,
		"insert.mode":                  "upsert",
		"pk.mode":                      "record_key",
		"delete.enabled":               "true",
		"auto.create":                  "true",
		"table.name.format":            "${topic}",
		"transforms":                   "table",
		"transforms.table.type":        "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.table.regex":       `[^.]+\.[^.]+\.([^.]+)`,
		"transforms.table.replacement": "$1",
	}
}

// e2eStartWorker starts a standalone worker whose sink consumers refresh metadata every second.
//
// NB: the sink subscribes by topics.regex before the CDC topics exist; like Kafka's consumer, it
// sees new topics at its next metadata refresh, every 5 minutes unless told otherwise.
func e2eStartWorker(t testing.TB, tb *testbroker.Broker, offsetsFile string) *connect.Runner {
	return startWorker(t, tb, offsetsFile, "consumer.metadata.max.age.ms", "1000")
}

// e2eWaitEqual waits until every table of A equals its copy in B, then until the sink group has
// committed the ends of the CDC topics (nothing is on its way that could change B again), and
// compares once more. It fails early if a connector fails. It returns when B first equalled A and
// the rows of A.
func e2eWaitEqual(t testing.TB, w *e2eWorkload, connB *pgx.Conn, tb *testbroker.Broker, worker *connect.Runner, prefix, sinkName string, timeout time.Duration) (time.Time, map[string][]string) {
	t.Helper()
	ctx := context.Background()
	var lastA, lastB map[string][]string
	equal := func() bool {
		lastA, lastB = map[string][]string{}, map[string][]string{}
		for _, tbl := range w.tables() {
			a, err := tbl.dump(ctx, w.conn)
			if err != nil {
				t.Fatal(err)
			}
			lastA[tbl.name] = a
			b, err := tbl.dump(ctx, connB)
			if err != nil {
				lastB[tbl.name] = []string{err.Error()} // not created yet
				return false
			}
			lastB[tbl.name] = b
			if strings.Join(a, "\n") != strings.Join(b, "\n") {
				return false
			}
		}
		return true
	}
	differences := func() {
		t.Helper()
		for _, tbl := range w.tables() {
			t.Errorf("table %s: first difference: %s", tbl.name, firstDifference(lastA[tbl.name], lastB[tbl.name]))
		}
	}
	err := testutil.Poll(timeout, 200*time.Millisecond, func() error {
		if equal() {
			return nil
		}
		for _, name := range []string{prefix + "-cdc", sinkName} {
			if state, tasks := connectorStatus(t, worker.Addr, name); state == "FAILED" || (len(tasks) > 0 && tasks[0].State == "FAILED") {
				t.Fatalf("connector %s failed: %s %+v", name, state, tasks)
			}
		}
		return errors.New("A and B differ")
	})
	if err != nil {
		differences()
		t.Fatalf("A and B still differ %v after the last change was committed", timeout)
	}
	converged := time.Now()

	adm := kadm.NewClient(sinkKafka(t, tb))
	topics := []string{prefix + ".public.accounts", prefix + ".public.stock"}
	var behind string
	caughtUp := func() bool {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(actx, topics...)
		if err != nil {
			behind = err.Error()
			return false
		}
		committed, err := adm.FetchOffsets(actx, "connect-"+sinkName)
		if err != nil {
			behind = err.Error()
			return false
		}
		behind = ""
		ends.Each(func(o kadm.ListedOffset) {
			if c, ok := committed.Lookup(o.Topic, o.Partition); !ok || c.At != o.Offset {
				behind += fmt.Sprintf(" %s-%d committed %d of %d;", o.Topic, o.Partition, c.At, o.Offset)
			}
		})
		return len(ends) == len(topics) && behind == ""
	}
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		if !caughtUp() {
			return fmt.Errorf("the sink has not committed the ends of the CDC topics:%s", behind)
		}
		return nil
	})
	if !equal() {
		differences()
		t.Fatal("A and B differ after the sink committed everything")
	}
	return converged, lastA
}

// TestCDCThroughTheBrokerIntoTheSinkKeepsTwoDatabasesEqual is issue 6's acceptance: one standalone
// worker runs PostgresCdcSource on database A (a snapshot of existing rows, then streaming) and
// PostgresSink on database B (upsert by record key, deletes, auto.create, topics.regex, the table
// from the topic's last segment via RegexRouter). After 10,000 mixed changes in transactions over
// two tables (numeric with and without scale, timestamptz, text incl. TOASTed documents, boolean,
// jsonb, uuid, date, timestamp, double precision, bytea, NULLs; one table with a
// composite primary key, some of whose keys are updated) the tables of A and B are equal row for
// row, and stay equal once the sink has committed the ends of the CDC topics.
func TestCDCThroughTheBrokerIntoTheSinkKeepsTwoDatabasesEqual(t *testing.T) {
	runCDCToSinkE2E(t, e2eRun{seedRows: 1_000, changes: 10_000})
}

// e2eRun is one run of the CDC → sink end-to-end test: its row counts and the converter
// properties both connectors get (none: the worker's JsonConverter).
type e2eRun struct {
	seedRows, changes int // seedRows per table, before the connector starts: the snapshot
	changesAfter      int // changes once B first equals A
	converters        map[string]string
	tb                *testbroker.Broker // nil: start one
}

// runCDCToSinkE2E runs database A → PostgresCdcSource → broker → PostgresSink → database B and
// checks B equals A, and that auto.create kept the column types. It returns the workload (A).
func runCDCToSinkE2E(t *testing.T, run e2eRun) *e2eWorkload {
	const (
		maxPerTxn    = 20
		convergeWait = 60 * time.Second
	)
	seedRows, changes := run.seedRows, run.changes
	pg := testpg.Start(t)
	dbA, dbB := pg.NewDatabase(t), pg.NewDatabase(t)
	w := newE2EWorkload(t, pg, dbA, 6)
	connB := pg.Connect(t, dbB)
	w.seed(seedRows)

	tb := run.tb
	if tb == nil {
		tb = testbroker.Start(t)
	}
	worker := e2eStartWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	start := time.Now()
	cdc, sink := cdcConfig(pg, dbA, "e2e"), e2eSinkConfig(pg, dbB, "e2e")
	for k, v := range run.converters {
		cdc[k], sink[k] = v, v
	}
	createConnector(t, worker.Addr, "e2e-cdc", cdc)
	createConnector(t, worker.Addr, "e2e-sink", sink)

	// The changes start while the snapshot runs.
	w.run(changes, maxPerTxn)
	written := time.Now()
	if w.keyChanges == 0 {
		t.Fatal("the change mix has no primary key change")
	}
	converged, rowsA := e2eWaitEqual(t, w, connB, tb, worker, "e2e", "e2e-sink", convergeWait)
	if run.changesAfter > 0 {
		// Changes that surely stream (the snapshot is over): updates with old images, deletes.
		w.run(run.changesAfter, maxPerTxn)
		converged, rowsA = e2eWaitEqual(t, w, connB, tb, worker, "e2e", "e2e-sink", convergeWait)
		changes += run.changesAfter
	}
	total := 2*seedRows + changes
	t.Logf("A and B equal: %d accounts, %d stock rows; %d snapshot rows + %d changes in %d transactions (%d key changes)",
		len(rowsA["accounts"]), len(rowsA["stock"]), 2*seedRows, changes, w.txns-1, w.keyChanges)
	t.Logf("writing A took %v; B equal %v after the last commit; end to end %v: %.0f rows/s",
		written.Sub(start).Round(time.Millisecond), converged.Sub(written).Round(time.Millisecond),
		converged.Sub(start).Round(time.Millisecond), float64(total)/converged.Sub(start).Seconds())

	// What auto.create made of the columns: the Debezium logical types kept their Postgres types.
	var types []string
	rows, err := connB.Query(context.Background(), `SELECT table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name IN ('accounts', 'stock') ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		types = append(types, s)
	}
	rows.Close()
	wantTypes := []string{
		"accounts.id bigint", "accounts.owner text", "accounts.balance numeric", "accounts.active boolean",
		"accounts.opened_at timestamp with time zone", "accounts.note text", "accounts.document text",
		"stock.warehouse text", "stock.sku integer", "stock.qty integer", "stock.price numeric", "stock.weight numeric",
		"stock.discontinued boolean", "stock.checked_at timestamp with time zone", "stock.label text",
		"stock.tags jsonb", "stock.lot uuid", "stock.made_on date", "stock.received_at timestamp without time zone",
		"stock.ratio double precision", "stock.code bytea",
	}
	if strings.Join(types, ", ") != strings.Join(wantTypes, ", ") {
		t.Errorf("B's columns:\n got %v\nwant %v", types, wantTypes)
	}
	return w
}

// TestCDCToSinkConvergesAcrossAWorkerRestart: the worker running both connectors is closed while
// changes flow, changes go on while it is down, and a new worker with the same offsets file and
// connector configs brings B level with A again (the CDC source resumes from its slot and stored
// offset, the sink from its group's committed offsets; replays are idempotent upserts and deletes).
func TestCDCToSinkConvergesAcrossAWorkerRestart(t *testing.T) {
	pg := testpg.Start(t)
	dbA, dbB := pg.NewDatabase(t), pg.NewDatabase(t)
	w := newE2EWorkload(t, pg, dbA, 7)
	connB := pg.Connect(t, dbB)
	w.seed(300)
	tb := testbroker.Start(t)
	offsets := filepath.Join(t.TempDir(), "connect.offsets")

	first := e2eStartWorker(t, tb, offsets)
	createConnector(t, first.Addr, "rs-cdc", cdcConfig(pg, dbA, "rs"))
	createConnector(t, first.Addr, "rs-sink", e2eSinkConfig(pg, dbB, "rs"))
	w.run(2_000, 20)
	// Closed while the pipeline is still behind: part of the changes is in flight.
	if err := first.Close(); err != nil {
		t.Fatalf("closing the first worker: %v", err)
	}
	w.run(2_000, 20)

	second := e2eStartWorker(t, tb, offsets)
	createConnector(t, second.Addr, "rs-cdc", cdcConfig(pg, dbA, "rs"))
	createConnector(t, second.Addr, "rs-sink", e2eSinkConfig(pg, dbB, "rs"))
	w.run(2_000, 20)
	_, rowsA := e2eWaitEqual(t, w, connB, tb, second, "rs", "rs-sink", 60*time.Second)
	t.Logf("A and B equal after a restart: %d accounts, %d stock rows after 600 snapshot rows and %d changes (%d key changes)",
		len(rowsA["accounts"]), len(rowsA["stock"]), w.total, w.keyChanges)
}

// TestUnchangedToastedValueComesFromTheOldRowUnderReplicaIdentityFull: an update that leaves a
// TOASTed column alone carries the column's value in "after" when the table has REPLICA IDENTITY
// FULL, and Debezium's placeholder otherwise (pgoutput does not send the value).
func TestUnchangedToastedValueComesFromTheOldRowUnderReplicaIdentityFull(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db,
		`CREATE TABLE full_docs (id int PRIMARY KEY, n int, doc text)`,
		`ALTER TABLE full_docs REPLICA IDENTITY FULL`,
		`CREATE TABLE plain_docs (id int PRIMARY KEY, n int, doc text)`,
	)
	g := e2eGen{r: rand.New(rand.NewSource(1))}
	var doc string
	for doc == "" {
		doc, _ = g.document().(string)
	}
	conn := pg.Connect(t, db)
	for _, table := range []string{"full_docs", "plain_docs"} {
		if _, err := conn.Exec(context.Background(), `INSERT INTO `+table+` VALUES (1, 0, $1)`, doc); err != nil {
			t.Fatal(err)
		}
	}
	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	createConnector(t, w.Addr, "toast", cdcConfig(pg, db, "toast"))
	waitTaskState(t, w.Addr, "toast", "RUNNING", 30*time.Second)
	pg.Exec(t, db, `UPDATE full_docs SET n = 1 WHERE id = 1`, `UPDATE plain_docs SET n = 1 WHERE id = 1`)
	c := newConsumer(t, tb, "toast.public.full_docs", "toast.public.plain_docs")
	c.waitFor(30*time.Second, "both updates", func(ev []event) bool {
		n := 0
		for _, e := range ev {
			if e.op() == "u" {
				n++
			}
		}
		return n == 2
	})
	for _, e := range c.events {
		if e.op() != "u" {
			continue
		}
		after, _ := e.Value["after"].(map[string]any)
		got, _ := after["doc"].(string)
		want := doc
		if e.Topic == "toast.public.plain_docs" {
			want = "__debezium_unavailable_value"
		}
		if got != want {
			t.Errorf("%s: update's after.doc is %d chars %.40q…, want %d chars %.40q…", e.Topic, len(got), got, len(want), want)
		}
	}
}
