package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestFilteringSnapshotModesAndTombstoneOptions runs connectors with different options side by
// side on one database and checks what each one writes.
func TestFilteringSnapshotModesAndTombstoneOptions(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db,
		`CREATE TABLE a (id int PRIMARY KEY, secret text, v int)`,
		`CREATE TABLE b (id int PRIMARY KEY)`,
		`INSERT INTO a VALUES (1, 's', 1)`, `INSERT INTO b VALUES (1)`)
	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	// f: only table a, a filtered publication, no secret column, no tombstones.
	createConnector(t, w.Addr, "f", cdcConfig(pg, db, "f", "table.include.list", "public\\.a", "publication.name", "f_pub",
		"publication.autocreate.mode", "filtered", "column.exclude.list", "public\\.a\\.secret", "tombstones.on.delete", "false", "slot.name", "f_slot"))
	// n: no snapshot, everything else default.
	createConnector(t, w.Addr, "n", cdcConfig(pg, db, "n", "snapshot.mode", "no_data", "publication.name", "n_pub", "slot.name", "n_slot"))
	waitTaskState(t, w.Addr, "f", "RUNNING", 30*time.Second)
	waitTaskState(t, w.Addr, "n", "RUNNING", 30*time.Second)
	var tables []string
	check := pg.Connect(t, db)
	rows, err := check.Query(context.Background(), `SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = 'f_pub'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		tables = append(tables, s)
	}
	if len(tables) != 1 || tables[0] != "public.a" {
		t.Errorf("filtered publication has tables %v, want [public.a]", tables)
	}
	// Wait until both slots exist before changing anything, so no_data sees the changes.
	testutil.CheckFor(t, 30*time.Second, 25*time.Millisecond, func() error {
		var n int
		_ = check.QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ('f_slot', 'n_slot')`).Scan(&n)
		if n != 2 {
			return errors.New("both slots")
		}
		return nil
	})
	pg.Exec(t, db, `INSERT INTO a VALUES (2, 's2', 2)`, `INSERT INTO b VALUES (2)`, `DELETE FROM a WHERE id = 1`)

	fc := newConsumer(t, tb, "f.public.a", "f.public.b")
	fc.waitFor(30*time.Second, "f's events", func(ev []event) bool { return len(ev) >= 3 })
	fc.poll(500 * time.Millisecond)
	var ops []string
	for _, e := range fc.events {
		if e.Topic != "f.public.a" {
			t.Errorf("f wrote to %s, which table.include.list leaves out", e.Topic)
		}
		ops = append(ops, e.op())
		for _, img := range []string{"before", "after"} {
			if m, ok := e.Value[img].(map[string]any); ok {
				if _, has := m["secret"]; has {
					t.Errorf("f's %s image has the excluded column: %v", img, m)
				}
			}
		}
	}
	if want := []string{"r", "c", "d"}; !equalStrings(ops, want) {
		t.Errorf("f's events %v, want %v (no tombstone)", ops, want)
	}

	nc := newConsumer(t, tb, "n.public.a", "n.public.b")
	nc.waitFor(30*time.Second, "n's events", func(ev []event) bool { return len(ev) >= 4 })
	nc.poll(500 * time.Millisecond)
	got := map[string][]string{}
	for _, e := range nc.events {
		got[e.Topic] = append(got[e.Topic], e.op())
	}
	if !equalStrings(got["n.public.a"], []string{"c", "d", "tombstone"}) || !equalStrings(got["n.public.b"], []string{"c"}) {
		t.Errorf("no_data connector wrote %v; want only the changes (no snapshot), a tombstone after the delete", got)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestKeyChangeBecomesDeleteAndCreateAndTruncateIsOptIn: an update of the primary key is a delete
// of the old key (with its tombstone) and a create of the new one, as in Debezium; truncate events
// appear only when skipped.operations no longer lists t.
func TestKeyChangeBecomesDeleteAndCreateAndTruncateIsOptIn(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE k (id int PRIMARY KEY, v text)`)
	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	createConnector(t, w.Addr, "k", cdcConfig(pg, db, "k", "skipped.operations", "none"))
	waitTaskState(t, w.Addr, "k", "RUNNING", 30*time.Second)
	pg.Exec(t, db, `INSERT INTO k VALUES (1, 'a')`, `UPDATE k SET id = 2 WHERE id = 1`, `TRUNCATE k`)
	c := newConsumer(t, tb, "k.public.k")
	c.waitFor(30*time.Second, "5 events", func(ev []event) bool { return len(ev) >= 5 })
	c.poll(300 * time.Millisecond)
	var got []string
	for _, e := range c.events {
		got = append(got, fmt.Sprintf("%s:%d", e.op(), num(e.Key["id"])))
	}
	want := []string{"c:1", "d:1", "tombstone:1", "c:2", "t:-1"}
	if !equalStrings(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if len(c.events) == 5 {
		if b, _ := c.events[1].Value["before"].(map[string]any); num(b["id"]) != 1 {
			t.Errorf("delete of the old key has before %v", c.events[1].Value["before"])
		}
		if a, _ := c.events[3].Value["after"].(map[string]any); num(a["id"]) != 2 || a["v"] != "a" {
			t.Errorf("create of the new key has after %v", c.events[3].Value["after"])
		}
	}
}

// TestInitialOnlySnapshotsThenStopsWithoutKeepingASlot: initial_only emits the snapshot, does not
// stream, and leaves no slot behind to retain WAL.
func TestInitialOnlySnapshotsThenStopsWithoutKeepingASlot(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE io (id int PRIMARY KEY)`, `INSERT INTO io SELECT generate_series(1, 5)`)
	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	cfg := cdcConfig(pg, db, "io", "snapshot.mode", "initial_only")
	createConnector(t, w.Addr, "io", cfg)
	c := newConsumer(t, tb, "io.public.io")
	c.waitFor(30*time.Second, "5 snapshot events", func(ev []event) bool { return len(ev) >= 5 })
	check := pg.Connect(t, db)
	testutil.CheckFor(t, 30*time.Second, 25*time.Millisecond, func() error {
		var n int
		_ = check.QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1`, cfg["slot.name"]).Scan(&n)
		if n != 0 {
			return errors.New("the temporary slot to be gone")
		}
		return nil
	})
	pg.Exec(t, db, `INSERT INTO io VALUES (6)`)
	c.poll(time.Second)
	if len(c.events) != 5 {
		t.Errorf("%d events, want the 5 snapshot events only", len(c.events))
	}
	if st := waitTaskState(t, w.Addr, "io", "RUNNING", 10*time.Second); st.Trace != "" {
		t.Errorf("task trace %q", st.Trace)
	}
}
