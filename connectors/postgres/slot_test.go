package postgres_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// Deleting a connector keeps its replication slot unless slot.drop.on.stop=true (Debezium's
// name), which drops it.
func TestDeletedConnectorKeepsItsSlotUnlessSlotDropOnStop(t *testing.T) {
	pg := testpg.Start(t)
	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	check := pg.Connect(t, "postgres")
	slotCount := func(slot string) int {
		var n int
		if err := check.QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tc := range []struct {
		drop string
		want int
	}{{"false", 1}, {"true", 0}} {
		db := pg.NewDatabase(t)
		pg.Exec(t, db, `CREATE TABLE s (id int PRIMARY KEY)`)
		name := "drop-" + tc.drop
		cfg := cdcConfig(pg, db, "p"+tc.drop, "slot.drop.on.stop", tc.drop)
		createConnector(t, w.Addr, name, cfg)
		waitTaskState(t, w.Addr, name, "RUNNING", 30*time.Second)
		testutil.CheckFor(t, 30*time.Second, 25*time.Millisecond, func() error {
			if slotCount(cfg["slot.name"]) != 1 {
				return fmt.Errorf("slot %s not created yet", cfg["slot.name"])
			}
			return nil
		})
		req, _ := http.NewRequest(http.MethodDelete, "http://"+w.Addr+"/connectors/"+name, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE %s: %d", name, resp.StatusCode)
		}
		testutil.CheckFor(t, 20*time.Second, 25*time.Millisecond, func() error {
			if n := slotCount(cfg["slot.name"]); n != tc.want {
				return fmt.Errorf("slot.drop.on.stop=%s: %d slots after delete, want %d", tc.drop, n, tc.want)
			}
			return nil
		})
	}
}
