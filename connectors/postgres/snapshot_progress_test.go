package postgres_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// lockedBuffer is a goroutine-safe log sink.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSnapshotLogsProgressPerTableWithPercentAndETA(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE big (id int PRIMARY KEY, v text)`,
		`INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 200) g`, `ANALYZE big`)
	tb := testbroker.Start(t)
	var logs lockedBuffer
	props := workerProps(tb.Addr(), filepath.Join(t.TempDir(), "connect.offsets"))
	w, err := connect.RunStandalone(t.Context(), props, connect.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	createConnector(t, w.Addr, "big", cdcConfig(pg, db, "big", "snapshot.mode", "initial_only", "snapshot.progress.interval.ms", "0"))

	testutil.CheckFor(t, 30*time.Second, 25*time.Millisecond, func() error {
		if !strings.Contains(logs.String(), "msg=\"snapshot of table done\"") {
			return fmt.Errorf("no \"snapshot of table done\" line yet")
		}
		return nil
	})
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "msg=\"snapshot progress\"") {
			lines = append(lines, l)
		}
	}
	// With a 0 interval, one line per row copied.
	if len(lines) != 200 {
		t.Fatalf("%d snapshot progress lines, want 200:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, want := range []string{"table=public.big", "done=100 ", "total=200", "percent=50", "eta="} {
		if !strings.Contains(lines[99], want) {
			t.Errorf("progress line after 100 rows lacks %q: %s", want, lines[99])
		}
	}
	if done := logs.String(); !strings.Contains(done, "table=public.big rows=200") {
		t.Errorf("the table's done line lacks its row count:\n%s", done)
	}
}
