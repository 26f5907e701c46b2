package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/jackc/pglogrepl"
)

func restPost(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, body)
	}
}

// waitIDs waits until every id in [from, to] has a "c" event on the consumer.
func waitIDs(c *consumer, from, to int) {
	c.t.Helper()
	c.waitFor(60*time.Second, fmt.Sprintf("inserts %d..%d", from, to), func(ev []event) bool {
		seen := map[int64]bool{}
		for _, e := range ev {
			if e.op() == "c" {
				seen[num(e.Key["id"])] = true
			}
		}
		for id := from; id <= to; id++ {
			if !seen[int64(id)] {
				return false
			}
		}
		return true
	})
}

func TestPostgresHaltedFailsTheTaskNamingTheConnectionAndRestartResumesWithoutLoss(t *testing.T) {
	pg := testpg.StartDedicated(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	createConnector(t, w.Addr, "halt", cdcConfig(pg, db, "halt"))
	waitTaskState(t, w.Addr, "halt", "RUNNING", 30*time.Second)
	c := newConsumer(t, tb, "halt.public.t")
	insert := func(from, to int) {
		conn := pg.Connect(t, db)
		defer conn.Close(context.Background())
		for id := from; id <= to; id++ {
			if _, err := conn.Exec(context.Background(), `INSERT INTO t VALUES ($1, 'x')`, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	insert(1, 100)
	waitIDs(c, 1, 100)

	pg.Halt(t)
	st := waitTaskState(t, w.Addr, "halt", "FAILED", 30*time.Second)
	where := fmt.Sprintf("127.0.0.1:%d", pg.Port)
	if !strings.Contains(st.Trace, "postgres replication connection to "+where) {
		t.Errorf("trace of the failed task does not name the connection %s: %q", where, st.Trace)
	}
	t.Logf("trace: %s", st.Trace)

	pg.Resume(t)
	insert(101, 200) // committed while the task is down: must come from the slot
	restPost(t, "http://"+w.Addr+"/connectors/halt/restart?includeTasks=true&onlyFailed=true")
	waitTaskState(t, w.Addr, "halt", "RUNNING", 30*time.Second)
	insert(201, 300)
	waitIDs(c, 1, 300)
	for _, e := range c.events {
		if e.op() == "r" {
			t.Fatalf("the restart took a snapshot instead of resuming: %s", e.ValueRaw)
		}
	}
}

func TestInvalidConfigsGetClearMessages(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE nokey (a int, b text)`, `CREATE TABLE haskey (id int PRIMARY KEY)`)
	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))

	// /config/validate lists every static error by key.
	cfg := cdcConfig(pg, db, "x", "plugin.name", "decoderbufs")
	delete(cfg, "topic.prefix")
	cfg["name"] = "bad"
	body, _ := json.Marshal(cfg)
	req, _ := http.NewRequest(http.MethodPut, "http://"+w.Addr+"/connector-plugins/PostgresConnector/config/validate", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var infos struct {
		ErrorCount int `json:"error_count"`
		Configs    []struct {
			Value struct {
				Name   string   `json:"name"`
				Errors []string `json:"errors"`
			} `json:"value"`
		} `json:"configs"`
	}
	err = json.NewDecoder(resp.Body).Decode(&infos)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	errs := map[string]string{}
	for _, c := range infos.Configs {
		if len(c.Value.Errors) > 0 {
			errs[c.Value.Name] = strings.Join(c.Value.Errors, "; ")
		}
	}
	if !strings.Contains(errs["plugin.name"], "decoderbufs") || !strings.Contains(errs["plugin.name"], "pgoutput") {
		t.Errorf("plugin.name error = %q, want it to name decoderbufs and pgoutput", errs["plugin.name"])
	}
	if !strings.Contains(errs["topic.prefix"], `Missing required configuration "topic.prefix"`) {
		t.Errorf("topic.prefix error = %q", errs["topic.prefix"])
	}
	if infos.ErrorCount != 2 {
		t.Errorf("error_count = %d, want 2 (%v)", infos.ErrorCount, errs)
	}

	// Creating it is refused with a 400 naming the key.
	body, _ = json.Marshal(map[string]any{"name": "bad", "config": cdcConfig(pg, db, "x", "plugin.name", "decoderbufs")})
	resp, err = http.Post("http://"+w.Addr+"/connectors", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(msg), "plugin.name") {
		t.Errorf("create with plugin.name=decoderbufs: %d %s", resp.StatusCode, msg)
	}

	// The plugin is listed under Debezium's class name.
	resp, err = http.Get("http://" + w.Addr + "/connector-plugins")
	if err != nil {
		t.Fatal(err)
	}
	plugins, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(plugins), `"io.debezium.connector.postgresql.PostgresConnector"`) {
		t.Errorf("GET /connector-plugins lacks the Postgres connector: %s", plugins)
	}

	// A captured table without a primary key fails the task naming the table.
	createConnector(t, w.Addr, "nokey", cdcConfig(pg, db, "nk"))
	st := waitTaskState(t, w.Addr, "nokey", "FAILED", 30*time.Second)
	if !strings.Contains(st.Trace, "public.nokey has no primary key") || !strings.Contains(st.Trace, "table.exclude.list") {
		t.Errorf("trace %q does not explain the missing primary key", st.Trace)
	}

	// A missing publication with autocreate disabled names the publication and the setting.
	createConnector(t, w.Addr, "nopub", cdcConfig(pg, db, "np", "table.include.list", "public.haskey",
		"publication.name", "missing_pub", "publication.autocreate.mode", "disabled", "slot.name", "np_slot"))
	st = waitTaskState(t, w.Addr, "nopub", "FAILED", 30*time.Second)
	if !strings.Contains(st.Trace, "publication missing_pub does not exist") || !strings.Contains(st.Trace, "publication.autocreate.mode") {
		t.Errorf("trace %q does not explain the missing publication", st.Trace)
	}
}

func TestDroppedSlotIsReportedNotSilentlyResnapshotted(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE t (id int PRIMARY KEY)`)
	tb := testbroker.Start(t)
	offsets := filepath.Join(t.TempDir(), "connect.offsets")
	w := startWorker(t, tb, offsets)
	cfg := cdcConfig(pg, db, "ds")
	createConnector(t, w.Addr, "ds", cfg)
	waitTaskState(t, w.Addr, "ds", "RUNNING", 30*time.Second)
	pg.Exec(t, db, `INSERT INTO t VALUES (1)`)
	c := newConsumer(t, tb, "ds.public.t")
	waitIDs(c, 1, 1)
	w.Close() // stores the offset

	// Postgres releases the slot once it notices the replication connection closed.
	check := pg.Connect(t, db)
	testutil.CheckFor(t, 10*time.Second, 25*time.Millisecond, func() error {
		var active bool
		_ = check.QueryRow(context.Background(), `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, cfg["slot.name"]).Scan(&active)
		if active {
			return errors.New("the slot to be released")
		}
		return nil
	})
	pg.Exec(t, db, `SELECT pg_drop_replication_slot('`+cfg["slot.name"]+`')`)
	w = startWorker(t, tb, offsets)
	createConnector(t, w.Addr, "ds", cfg)
	st := waitTaskState(t, w.Addr, "ds", "FAILED", 30*time.Second)
	if !strings.Contains(st.Trace, "replication slot "+cfg["slot.name"]+" does not exist") || !strings.Contains(st.Trace, "when_needed") {
		t.Errorf("trace %q does not explain the dropped slot", st.Trace)
	}
}

func TestHeartbeatsAdvanceTheSlotOnAnIdleDatabase(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	other := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE t (id int PRIMARY KEY)`)
	pg.Exec(t, other, `CREATE TABLE busy (id int)`)
	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	cfg := cdcConfig(pg, db, "hb", "heartbeat.interval.ms", "200")
	createConnector(t, w.Addr, "hb", cfg)
	waitTaskState(t, w.Addr, "hb", "RUNNING", 30*time.Second)
	check := pg.Connect(t, db)
	start := slotConfirmedFlush(t, check, cfg["slot.name"])
	// WAL grows through another database only; the captured tables stay idle.
	pg.Exec(t, other, `INSERT INTO busy SELECT generate_series(1, 10000)`)
	var nowText string
	if err := check.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&nowText); err != nil {
		t.Fatal(err)
	}
	now, _ := pglogrepl.ParseLSN(nowText)
	testutil.CheckFor(t, 30*time.Second, 25*time.Millisecond, func() error {
		if slotConfirmedFlush(t, check, cfg["slot.name"]) < now {
			return fmt.Errorf("the slot to confirm past the other database's writes (%v; was %v)", now, start)
		}
		return nil
	})
	c := newConsumer(t, tb, "__debezium-heartbeat.hb")
	c.waitFor(10*time.Second, "heartbeat records", func(ev []event) bool { return len(ev) > 0 })
	if got := c.events[0].Key["serverName"]; got != "hb" {
		t.Errorf("heartbeat key serverName = %v, want hb", got)
	}
}
