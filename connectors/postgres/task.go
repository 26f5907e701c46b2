package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Source offset keys (Debezium's, plus event_serial_no: the index of a change inside its transaction).
const (
	offsetLSN          = "lsn"
	offsetTxID         = "txId"
	offsetTsUsec       = "ts_usec"
	offsetLSNCommit    = "lsn_commit"
	offsetEventSerial  = "event_serial_no"
	offsetSnapshot     = "snapshot"
	offsetLastSnapshot = "last_snapshot_record"
)

// item is what the reader hands to Poll: a record, and/or the LSN up to which everything has
// been handed over (the end of a transaction, a finished snapshot, a heartbeat).
type item struct {
	rec     *connect.SourceRecord
	doneLSN pglogrepl.LSN
}

// resumePoint is what the stored offset says was already written.
type resumePoint struct {
	commitLSN pglogrepl.LSN // lsn_commit of the last written change's transaction
	serial    int64         // its event_serial_no; -1: nothing of that transaction
}

// SourceTask streams one database's changes. Start connects and prepares the slot; a reader
// goroutine snapshots and then streams, handing items to Poll through a bounded channel.
//
// The slot's confirmed flush LSN is safeLSN, which only Commit advances: Commit runs after the
// worker has had every record returned by earlier Polls acknowledged by Kafka and their offsets
// stored, so the slot never passes what was written.
type SourceTask struct {
	cfg       *config
	logger    *slog.Logger
	partition map[string]any

	meta  *pgx.Conn      // catalog queries and the snapshot transaction; owned by the reader
	repl  *pgconn.PgConn // the replication connection; owned by the reader
	items chan item      // reader → Poll
	fail  chan struct{}  // closed when the reader failed
	err   error          // the reader's error, set before fail is closed
	stop  context.CancelFunc
	wg    sync.WaitGroup
	once  sync.Once

	safeLSN    atomic.Uint64 // written by Commit, read by the reader
	polledDone pglogrepl.LSN // task goroutine only: doneLSN of the last item Poll returned
}

// Start implements connect.SourceTask.
func (t *SourceTask) Start(tctx connect.SourceTaskContext, raw map[string]string) (err error) {
	cfg, err := parseConfig(raw)
	if err != nil {
		return err
	}
	t.cfg = cfg
	t.logger = taskLogger(tctx).With("component", "postgres-cdc", "server", cfg.topicPrefix)
	t.partition = map[string]any{"server": cfg.topicPrefix}
	offset, err := tctx.OffsetReader().Offset(t.partition)
	if err != nil {
		return fmt.Errorf("reading the stored offset of server %s: %w", cfg.topicPrefix, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	defer func() {
		if err != nil {
			t.closeConns()
		}
	}()
	where := fmt.Sprintf("%s:%d/%s", cfg.host, cfg.port, cfg.dbname)
	if t.meta, err = pgx.Connect(ctx, cfg.connString(false)); err != nil {
		return fmt.Errorf("connecting to postgres %s: %w", where, err)
	}
	refs, err := discoverTables(ctx, t.meta, cfg)
	if err != nil {
		return err
	}
	tables := make([]*table, 0, len(refs))
	for _, r := range refs {
		cols, err := loadColumns(ctx, t.meta, r.oid)
		if err != nil {
			return fmt.Errorf("reading columns of %s.%s: %w", r.schema, r.name, err)
		}
		tb, err := newTable(cfg, r.oid, r.schema, r.name, cols)
		if err != nil {
			return err
		}
		tables = append(tables, tb)
	}
	if err := ensurePublication(ctx, t.meta, cfg, refs); err != nil {
		return err
	}

	if cfg.snapshotMode == SnapshotInitialOnly && offsetSnapshotDone(offset) {
		// Nothing left to do: the snapshot was taken and this mode does not stream.
		t.logger.Info("snapshot already taken; snapshot.mode=initial_only, not streaming")
		t.closeConns()
		t.items, t.fail = make(chan item), make(chan struct{})
		return nil
	}
	slot, err := waitSlotInactive(ctx, t.meta, cfg.slot, 15*time.Second)
	if err != nil {
		return err
	}
	if slot != nil && (slot.plugin != "pgoutput" || slot.database != cfg.dbname) {
		return fmt.Errorf("replication slot %s exists for plugin %q on database %q, not pgoutput on %s: choose another %s", cfg.slot, slot.plugin, slot.database, cfg.dbname, ConfigSlotName)
	}
	plan, err := planStart(cfg, offset, slot != nil)
	if err != nil {
		return err
	}
	resume, snapshot := plan.resume, plan.snapshot
	if plan.dropSlot {
		t.logger.Warn("dropping the replication slot to take a new snapshot", "slot", cfg.slot, "snapshot.mode", cfg.snapshotMode)
		if _, err := t.meta.Exec(ctx, "SELECT pg_drop_replication_slot($1)", cfg.slot); err != nil {
			return fmt.Errorf("dropping replication slot %s to take a new snapshot: %w", cfg.slot, err)
		}
		slot = nil
	}
	if t.repl, err = pgconn.Connect(ctx, cfg.connString(true)); err != nil {
		return fmt.Errorf("opening a replication connection to postgres %s: %w", where, err)
	}
	var snapshotName string
	var startLSN pglogrepl.LSN
	if slot == nil {
		action := "NOEXPORT_SNAPSHOT"
		if snapshot {
			action = "EXPORT_SNAPSHOT"
		}
		// NB: initial_only never streams, so its slot is temporary: it must not retain WAL afterwards.
		res, err := pglogrepl.CreateReplicationSlot(ctx, t.repl, cfg.slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{
			SnapshotAction: action, Mode: pglogrepl.LogicalReplication, Temporary: cfg.snapshotMode == SnapshotInitialOnly})
		if err != nil {
			return fmt.Errorf("creating replication slot %s: %w", cfg.slot, err)
		}
		if startLSN, err = pglogrepl.ParseLSN(res.ConsistentPoint); err != nil {
			return fmt.Errorf("replication slot %s: %w", cfg.slot, err)
		}
		snapshotName = res.SnapshotName
		t.logger.Info("created replication slot", "slot", cfg.slot, "consistent_point", startLSN, "snapshot", snapshot)
	} else {
		startLSN = slot.confirmedFlush
	}
	t.safeLSN.Store(uint64(startLSN))
	t.items = make(chan item, 4096)
	t.fail = make(chan struct{})
	rctx, stop := context.WithCancel(context.Background())
	t.stop = stop
	r := &reader{t: t, cfg: cfg, resume: resume, tables: map[uint32]*table{}, startLSN: startLSN}
	for _, tb := range tables {
		r.tables[tb.oid] = tb
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		err := r.run(rctx, snapshot, snapshotName, tables)
		if err != nil && rctx.Err() == nil {
			t.err = err
			close(t.fail)
		}
	}()
	return nil
}

// startPlan is what a starting task does, given its stored offset and whether the slot exists.
type startPlan struct {
	snapshot bool        // take a snapshot before streaming
	dropSlot bool        // drop the existing slot first (a snapshot needs a freshly created one)
	resume   resumePoint // what the stored offset says was already written
}

// offsetSnapshotDone reports whether a stored offset says the snapshot finished (or was not taken).
func offsetSnapshotDone(offset map[string]any) bool {
	if offset == nil {
		return false
	}
	snap, _ := offset[offsetSnapshot].(bool)
	last, _ := offset[offsetLastSnapshot].(bool)
	return !snap || last
}

// planStart decides between snapshot and streaming. It is pure so every case is table-tested.
func planStart(cfg *config, offset map[string]any, slotExists bool) (startPlan, error) {
	p := startPlan{resume: resumePoint{serial: -1}}
	done := offsetSnapshotDone(offset)
	if snap, _ := offset[offsetSnapshot].(bool); offset != nil && !snap {
		if c, ok := asInt64(offset[offsetLSNCommit]); ok {
			p.resume.commitLSN = pglogrepl.LSN(c)
			if s, ok := asInt64(offset[offsetEventSerial]); ok {
				p.resume.serial = s
			}
		}
	}
	switch cfg.snapshotMode {
	case SnapshotAlways:
		p.snapshot = true
	case SnapshotInitial, SnapshotInitialOnly:
		p.snapshot = !done
	case SnapshotWhenNeeded:
		p.snapshot = !done || !slotExists
	case SnapshotNoData:
		p.snapshot = false
	}
	// NB: with slot.drop.on.stop the slot is gone by design; the task streams from a new one, and
	// changes made while it was stopped are not captured (as in Debezium).
	if !slotExists && offset != nil && done && !p.snapshot && !cfg.slotDropOnStop {
		return p, fmt.Errorf("replication slot %s does not exist but server %s has a stored offset (lsn %v): the changes since then are gone; recreate the connector with a new %s, or set %s=%s to take a new snapshot",
			cfg.slot, cfg.topicPrefix, offset[offsetLSN], ConfigTopicPrefix, ConfigSnapshotMode, SnapshotWhenNeeded)
	}
	p.dropSlot = p.snapshot && slotExists
	return p, nil
}

func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), true
	}
	return 0, false
}

// pollWait bounds how long Poll waits for the first item; the worker commits offsets between polls.
const pollWait = 500 * time.Millisecond

// maxBatch bounds the records one Poll returns.
const maxBatch = 2048

// Poll implements connect.SourceTask.
func (t *SourceTask) Poll(ctx context.Context) ([]connect.SourceRecord, error) {
	var out []connect.SourceRecord
	take := func(it item) {
		if it.rec != nil {
			out = append(out, *it.rec)
		}
		if it.doneLSN > t.polledDone {
			t.polledDone = it.doneLSN
		}
	}
	timer := time.NewTimer(pollWait)
	defer timer.Stop()
	select {
	case it := <-t.items:
		take(it)
	case <-t.fail:
		select {
		case it := <-t.items: // hand over what was read before the failure
			take(it)
		default:
			return nil, t.err
		}
	case <-ctx.Done():
		return nil, nil
	case <-timer.C:
		return nil, nil
	}
	for len(out) < maxBatch {
		select {
		case it := <-t.items:
			take(it)
			continue
		default:
		}
		break
	}
	return out, nil
}

// Commit implements connect.SourceTaskCommitter: every record returned by Poll so far is in Kafka
// and its offset stored, so the slot may confirm up to the last transaction Poll completed.
func (t *SourceTask) Commit() error {
	if uint64(t.polledDone) > t.safeLSN.Load() {
		t.safeLSN.Store(uint64(t.polledDone))
	}
	return nil
}

// CommitRecord implements connect.SourceTaskCommitter; the slot advances per Commit, not per record.
func (t *SourceTask) CommitRecord(connect.SourceRecord, connect.RecordMetadata) error { return nil }

// Stop implements connect.SourceTask. Idempotent.
func (t *SourceTask) Stop() error {
	t.once.Do(func() {
		if t.stop != nil {
			t.stop()
		}
		t.wg.Wait()
		t.closeConns()
		if t.cfg != nil && t.logger != nil {
			t.releaseSlot()
		}
	})
	return nil
}

// releaseSlot drops the replication slot when slot.drop.on.stop is set, and otherwise says that
// it stays and how to drop it: a forgotten slot holds the server's WAL for ever.
func (t *SourceTask) releaseSlot() {
	slot := t.cfg.slot
	if !t.cfg.slotDropOnStop {
		t.logger.Info("replication slot stays in Postgres, keeping changes for this connector and holding WAL until it resumes; "+
			"if the connector is gone for good, drop it: SELECT pg_drop_replication_slot('"+slot+"') (or set "+ConfigSlotDropOnStop+"=true)",
			"slot", slot)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, t.cfg.connString(false))
	if err != nil {
		t.logger.Warn("could not drop the replication slot", "slot", slot, ConfigSlotDropOnStop, true, "err", err)
		return
	}
	defer conn.Close(ctx)
	// NB: the walsender releases the slot shortly after the replication connection closes, so an
	// "is active" error is retried until the deadline.
	for {
		var dropped bool
		err = conn.QueryRow(ctx, `SELECT count(pg_drop_replication_slot(slot_name)) > 0 FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&dropped)
		if err == nil {
			t.logger.Info("dropped the replication slot", "slot", slot, ConfigSlotDropOnStop, true, "existed", dropped)
			return
		}
		select {
		case <-ctx.Done():
			t.logger.Warn("could not drop the replication slot", "slot", slot, ConfigSlotDropOnStop, true, "err", err)
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (t *SourceTask) closeConns() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if t.repl != nil {
		_ = t.repl.Close(ctx)
		t.repl = nil
	}
	if t.meta != nil {
		_ = t.meta.Close(ctx)
		t.meta = nil
	}
}

// errConnection wraps a lost connection so the task's trace names it.
func errConnection(what string, cfg *config, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("postgres %s connection to %s:%d/%s failed: %w", what, cfg.host, cfg.port, cfg.dbname, err)
}
