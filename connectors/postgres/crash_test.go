package postgres_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// childWorker is a worker process the test can kill -9.
type childWorker struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
	done   chan struct{}
}

func startChildWorker(t *testing.T, spec childSpec) *childWorker {
	t.Helper()
	js, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childWorkerEnv+"="+string(js))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cw := &childWorker{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = cw.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(cw.done) }()
	t.Cleanup(func() { cw.kill() })
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		for s.Scan() {
		}
	}()
	select {
	case cw.addr = <-line:
	case <-time.After(30 * time.Second):
	}
	if cw.addr == "" {
		cw.kill()
		t.Fatalf("child worker did not start: %s", cw.stderr)
	}
	return cw
}

// kill sends SIGKILL and waits for the process to be gone. Idempotent.
func (cw *childWorker) kill() {
	_ = cw.cmd.Process.Signal(syscall.SIGKILL)
	<-cw.done
}

// topicContents reads a topic from the start to its current end and counts each event.
func topicContents(t *testing.T, tb *testbroker.Broker, topic string) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var end int64
	ends.Each(func(o kadm.ListedOffset) { end = o.Offset })
	counts := map[string]int{}
	var read int64
	for read < end {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: read %d of %d records", topic, read, end)
		}
		fs.EachRecord(func(r *kgo.Record) {
			read = r.Offset + 1
			counts[ledgerEventID(t, r)]++
		})
	}
	return counts
}

// ledgerEventID names an event of the ledger table: "c:7", "u:7:3", "d:7", "tombstone:7".
func ledgerEventID(t *testing.T, r *kgo.Record) string {
	key := decodeEnvelope(t, r.Key)
	id := num(key["id"])
	v := decodeEnvelope(t, r.Value)
	if v == nil {
		return fmt.Sprintf("tombstone:%d", id)
	}
	op, _ := v["op"].(string)
	if op == "u" {
		after := v["after"].(map[string]any)
		return fmt.Sprintf("u:%d:%d", id, num(after["v"]))
	}
	return fmt.Sprintf("%s:%d", op, id)
}

// ledgerWriter commits small transactions and remembers, per transaction, its events and an LSN
// at or after its commit.
type ledgerWriter struct {
	mu struct {
		sync.Mutex
		txns []ledgerTxn
	}
}

type ledgerTxn struct {
	events   []string
	lsnAfter pglogrepl.LSN
}

// run commits transactions until stop is set (checked between transactions, so every
// transaction the writer started is known to have committed).
func (lw *ledgerWriter) run(ctx context.Context, conn *pgx.Conn, stop *atomic.Bool, pause time.Duration) error {
	versions := map[int]int{}
	deleted := map[int]bool{}
	for i := 1; !stop.Load(); i++ {
		batch := &pgx.Batch{}
		var evs []string
		batch.Queue(`INSERT INTO ledger (id, v, note) VALUES ($1, 0, 'x')`, i)
		versions[i] = 0
		evs = append(evs, fmt.Sprintf("c:%d", i))
		if j := i - 1; i%3 == 0 && !deleted[j] {
			versions[j]++
			batch.Queue(`UPDATE ledger SET v = $2 WHERE id = $1`, j, versions[j])
			evs = append(evs, fmt.Sprintf("u:%d:%d", j, versions[j]))
		}
		if j := i - 5; i%7 == 0 && j > 0 && !deleted[j] {
			deleted[j] = true
			batch.Queue(`DELETE FROM ledger WHERE id = $1`, j)
			evs = append(evs, fmt.Sprintf("d:%d", j), fmt.Sprintf("tombstone:%d", j))
		}
		if err := conn.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
		var lsn string
		if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
			return err
		}
		l, _ := pglogrepl.ParseLSN(lsn)
		lw.mu.Lock()
		lw.mu.txns = append(lw.mu.txns, ledgerTxn{events: evs, lsnAfter: l})
		lw.mu.Unlock()
		time.Sleep(pause)
	}
	return nil
}

func (lw *ledgerWriter) txns() []ledgerTxn {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return append([]ledgerTxn(nil), lw.mu.txns...)
}

func slotConfirmedFlush(t *testing.T, conn *pgx.Conn, slot string) pglogrepl.LSN {
	t.Helper()
	var s *string
	if err := conn.QueryRow(context.Background(), "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&s); err != nil {
		t.Fatalf("slot %s: %v", slot, err)
	}
	if s == nil {
		return 0
	}
	l, _ := pglogrepl.ParseLSN(*s)
	return l
}

// TestNoChangeIsLostWhenTheWorkerIsKilledFiveTimes kills the worker process (SIGKILL) at random
// points while transactions commit. At each kill, every transaction whose commit the slot has
// confirmed must already be on the topic; after the last restart every change is there, and
// duplicates are counted.
func TestNoChangeIsLostWhenTheWorkerIsKilledFiveTimes(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, `CREATE TABLE ledger (id bigint PRIMARY KEY, v int NOT NULL, note text)`)
	tb := testbroker.Start(t)
	dir := t.TempDir()
	spec := childSpec{Props: workerProps(tb.Addr(), filepath.Join(dir, "connect.offsets")), Name: "ledger-cdc", Connector: cdcConfig(pg, db, "crash")}
	spec.Connector["name"] = "ledger-cdc"
	slot := spec.Connector["slot.name"]
	const topic = "crash.public.ledger"
	check := pg.Connect(t, db)
	rnd := rand.New(rand.NewSource(time.Now().UnixNano()))

	cw := startChildWorker(t, spec)
	testutil.CheckFor(t, 30*time.Second, 25*time.Millisecond, func() error {
		var n int
		_ = check.QueryRow(context.Background(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&n)
		if n != 1 {
			return errors.New("the slot to exist")
		}
		return nil
	})
	lw := &ledgerWriter{}
	wctx, stopWriter := context.WithCancel(context.Background())
	defer stopWriter()
	writerDone := make(chan error, 1)
	var stopWriting atomic.Bool
	go func() { writerDone <- lw.run(wctx, pg.Connect(t, db), &stopWriting, 2*time.Millisecond) }()

	checked := 0
	for kill := 1; kill <= 5; kill++ {
		time.Sleep(time.Duration(400+rnd.Intn(1600)) * time.Millisecond)
		kafkaDown := kill == 3
		if kafkaDown {
			// The worker keeps reading changes it cannot write: nothing of them may be confirmed.
			tb.Stop()
			time.Sleep(2500 * time.Millisecond)
		}
		cw.kill()
		confirmed := slotConfirmedFlush(t, check, slot)
		if kafkaDown {
			tb.StartStopped()
		}
		txns := lw.txns()
		onTopic := topicContents(t, tb, topic)
		covered := 0
		for _, tx := range txns {
			if tx.lsnAfter > confirmed {
				continue
			}
			covered++
			for _, ev := range tx.events {
				if onTopic[ev] == 0 {
					t.Fatalf("kill %d: slot confirmed %v but %s (committed by %v) is not on the topic", kill, confirmed, ev, tx.lsnAfter)
				}
			}
		}
		checked += covered
		t.Logf("kill %d (Kafka down: %v): %d transactions committed, slot confirmed %v covering %d of them, %d distinct events on the topic", kill, kafkaDown, len(txns), confirmed, covered, len(onTopic))
		cw = startChildWorker(t, spec)
	}
	// Changes keep coming after the last restart too.
	time.Sleep(time.Second)
	stopWriting.Store(true)
	if checked == 0 {
		t.Fatalf("no kill happened after the slot confirmed anything: the check above checked nothing")
	}
	select {
	case err := <-writerDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("writer did not finish")
	}
	var want []string
	for _, tx := range lw.txns() {
		want = append(want, tx.events...)
	}
	var onTopic map[string]int
	var missing []string
	// NB: a timeout is not fatal here: what is still missing is counted and reported below.
	_ = testutil.Poll(60*time.Second, 200*time.Millisecond, func() error {
		onTopic = topicContents(t, tb, topic)
		missing = missing[:0]
		for _, ev := range want {
			if onTopic[ev] == 0 {
				missing = append(missing, ev)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d events missing", len(missing))
		}
		return nil
	})
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Fatalf("%d of %d changes never reached the topic, e.g. %v", len(missing), len(want), missing[:min(10, len(missing))])
	}
	dups := 0
	for _, n := range onTopic {
		dups += n - 1
	}
	if extra := len(onTopic) - len(want); extra != 0 {
		t.Errorf("%d events on the topic that no transaction made", extra)
	}
	t.Logf("all %d changes of %d transactions on the topic after 5 kills; %d duplicates (records produced after the last offset flush before a kill)", len(want), len(lw.txns()), dups)
}
