package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/pgsql"
	"github.com/gregor-streams/gregor/internal/progress"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// statusInterval is how often the reader reports the safe LSN to Postgres.
const statusInterval = time.Second

// reader owns the task's connections: it snapshots, then streams pgoutput messages, turning them
// into items for Poll and answering keepalives with the safe LSN.
type reader struct {
	t        *SourceTask
	cfg      *config
	resume   resumePoint
	tables   map[uint32]*table // by relation OID; nil value: not captured
	startLSN pglogrepl.LSN

	// Stream position.
	inTxn      bool
	skipTxn    bool
	xid        uint32
	finalLSN   pglogrepl.LSN
	commitTime time.Time
	serial     int64
	lastCommit pglogrepl.LSN
	lastDone   pglogrepl.LSN // doneLSN of the last item handed over
	walEnd     pglogrepl.LSN // server WAL end from the last keepalive outside a transaction

	isStreaming    bool
	nextStatus     time.Time
	lastHeartbeat  time.Time
	sentSafe       pglogrepl.LSN
	lastStatusSent time.Time
}

func (r *reader) run(ctx context.Context, snapshot bool, snapshotName string, tables []*table) error {
	if snapshot {
		if err := r.snapshot(ctx, snapshotName, tables); err != nil {
			return err
		}
		if r.cfg.snapshotMode == SnapshotInitialOnly {
			r.t.logger.Info("snapshot done; snapshot.mode=initial_only, not streaming")
			// NB: closing the replication connection drops the temporary slot.
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = r.t.repl.Close(cctx)
			cancel()
			<-ctx.Done()
			return nil
		}
	}
	return r.stream(ctx)
}

// send hands an item to Poll, reporting the safe LSN to Postgres while it waits.
func (r *reader) send(ctx context.Context, it item) error {
	select {
	case r.t.items <- it: // the common case: Poll keeps up
		if it.doneLSN > r.lastDone {
			r.lastDone = it.doneLSN
		}
		return nil
	default:
	}
	for {
		wait := time.Until(r.nextStatus)
		if wait <= 0 {
			if err := r.sendStatus(ctx, false); err != nil {
				return err
			}
			wait = statusInterval
		}
		timer := time.NewTimer(wait)
		select {
		case r.t.items <- it:
			timer.Stop()
			if it.doneLSN > r.lastDone {
				r.lastDone = it.doneLSN
			}
			return nil
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// sendStatus reports the safe LSN as written, flushed and applied (a no-op before streaming).
func (r *reader) sendStatus(ctx context.Context, force bool) error {
	r.nextStatus = time.Now().Add(statusInterval)
	if !r.isStreaming {
		return nil
	}
	safe := pglogrepl.LSN(r.t.safeLSN.Load())
	if !force && safe == r.sentSafe {
		// NB: still report now and then, well within wal_sender_timeout.
		if time.Since(r.lastStatusSent) < 10*time.Second {
			return nil
		}
	}
	err := pglogrepl.SendStandbyStatusUpdate(ctx, r.t.repl, pglogrepl.StandbyStatusUpdate{WALWritePosition: safe, WALFlushPosition: safe, WALApplyPosition: safe})
	if err != nil {
		return errConnection("replication", r.cfg, err)
	}
	r.sentSafe, r.lastStatusSent = safe, time.Now()
	return nil
}

// snapshotTracker reports the snapshot's progress through one table in log lines, against the
// table's estimated row count.
//
// NB: the estimate is pg_class.reltuples (as of the last VACUUM or ANALYZE): counting the rows
// would read the table twice. It is -1 (unknown) for a table never analysed, and the lines then
// show the rows copied and the rate without a percentage.
func (r *reader) snapshotTracker(ctx context.Context, tx pgx.Tx, tb *table) (*progress.Tracker, error) {
	var estimate float64
	err := tx.QueryRow(ctx, "SELECT reltuples::float8 FROM pg_class WHERE oid = $1::regclass",
		pgsql.QuoteIdent(tb.schema, tb.name)).Scan(&estimate)
	if err != nil {
		return nil, errConnection("snapshot", r.cfg, fmt.Errorf("estimating the rows of %s.%s: %w", tb.schema, tb.name, err))
	}
	name := tb.schema + "." + tb.name
	return progress.NewTracker(max(0, int64(estimate)), r.cfg.snapshotProgress, func(p progress.Progress) {
		// done is rows copied, total the estimated rows of the table.
		r.t.logger.Info("snapshot progress", append([]any{"table", name}, p.Attrs()...)...)
	}), nil
}

// snapshot reads every captured table in the exported snapshot and hands out op "r" events.
func (r *reader) snapshot(ctx context.Context, snapshotName string, tables []*table) error {
	start := time.Now()
	tx, err := r.t.meta.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return errConnection("snapshot", r.cfg, err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+snapshotName+"'"); err != nil {
		return errConnection("snapshot", r.cfg, err)
	}
	var pending *connect.SourceRecord
	flush := func(last bool) error {
		if pending == nil {
			return nil
		}
		if last {
			env := pending.Value.(*connect.Struct)
			_ = env.Get("source").(*connect.Struct).Put("snapshot", "last")
			pending.SourceOffset[offsetLastSnapshot] = true
		}
		rec := pending
		pending = nil
		return r.send(ctx, item{rec: rec})
	}
	now := time.Now()
	rows := 0
	for _, tb := range tables {
		cols := make([]string, len(tb.cols))
		for i, c := range tb.cols {
			cols[i] = pgsql.QuoteIdent(c.name)
		}
		q := "SELECT " + strings.Join(cols, ", ") + " FROM " + pgsql.QuoteIdent(tb.schema, tb.name)
		tracker, err := r.snapshotTracker(ctx, tx, tb)
		if err != nil {
			return err
		}
		tableRows := 0
		res, err := tx.Query(ctx, q, pgx.QueryResultFormats{pgx.TextFormatCode})
		if err != nil {
			return errConnection("snapshot", r.cfg, fmt.Errorf("reading %s.%s: %w", tb.schema, tb.name, err))
		}
		for res.Next() {
			tableRows++
			tracker.Update(int64(tableRows))
			raw := res.RawValues()
			cells := make([]cell, len(raw))
			for i, v := range raw {
				if v == nil {
					cells[i] = cell{kind: 'n'}
				} else {
					cells[i] = cell{kind: 't', text: string(v)}
				}
			}
			key, err := tb.keyStruct(cells)
			if err == nil {
				var after *connect.Struct
				if after, err = tb.rowStruct(cells); err == nil {
					if err = flush(false); err == nil {
						si := sourceInfo{snapshot: "true", commitTime: now, lsn: int64(r.startLSN), db: r.cfg.dbname}
						pending = &connect.SourceRecord{
							SourcePartition: r.t.partition,
							SourceOffset: map[string]any{offsetLSN: int64(r.startLSN), offsetTsUsec: now.UnixMicro(),
								offsetSnapshot: true, offsetLastSnapshot: false},
							Topic: tb.topic, KeySchema: tb.keySchema, Key: key,
							ValueSchema: tb.envelopeSchema, Value: tb.envelope(r.cfg, "r", nil, after, si, time.Now()),
						}
						rows++
					}
				}
			}
			if err != nil {
				res.Close()
				return err
			}
		}
		if err := res.Err(); err != nil {
			return errConnection("snapshot", r.cfg, fmt.Errorf("reading %s.%s: %w", tb.schema, tb.name, err))
		}
		r.t.logger.Info("snapshot of table done", "table", tb.schema+"."+tb.name, "rows", tableRows,
			"elapsed", tracker.Progress(int64(tableRows)).Elapsed.Round(time.Millisecond))
	}
	if err := flush(true); err != nil {
		return err
	}
	if rows == 0 {
		// NB: without a record no offset is stored, and a restart would take the snapshot again,
		// turning changes streamed meanwhile into "r" events; a heartbeat records completion.
		if err := r.send(ctx, item{rec: r.heartbeat(map[string]any{offsetLSN: int64(r.startLSN), offsetTsUsec: now.UnixMicro(),
			offsetSnapshot: true, offsetLastSnapshot: true})}); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return errConnection("snapshot", r.cfg, err)
	}
	r.t.logger.Info("snapshot done", "tables", len(tables), "rows", rows, "elapsed", time.Since(start))
	r.lastCommit = r.startLSN
	return r.send(ctx, item{doneLSN: r.startLSN})
}

// stream starts replication from the slot's confirmed position and handles messages until ctx ends.
func (r *reader) stream(ctx context.Context) error {
	err := pglogrepl.StartReplication(ctx, r.t.repl, r.cfg.slot, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + r.cfg.publication + "'"},
	})
	if err != nil {
		if pe, ok := err.(*pgconn.PgError); ok {
			return fmt.Errorf("starting replication from slot %s with publication %s: %s (SQLSTATE %s)", r.cfg.slot, r.cfg.publication, pe.Message, pe.Code)
		}
		return errConnection("replication", r.cfg, err)
	}
	r.isStreaming = true
	r.lastHeartbeat = time.Now()
	defer func() {
		// Report the final safe LSN (the worker commits before it stops the task).
		fctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = r.sendStatus(fctx, true)
	}()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(r.nextStatus) {
			if err := r.sendStatus(ctx, false); err != nil {
				return err
			}
		}
		if err := r.maybeHeartbeat(ctx); err != nil {
			return err
		}
		deadline := r.nextStatus
		if r.cfg.heartbeat > 0 {
			if hb := r.lastHeartbeat.Add(r.cfg.heartbeat); hb.Before(deadline) {
				deadline = hb
			}
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		msg, err := r.t.repl.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				continue
			}
			return errConnection("replication", r.cfg, err)
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if err := r.handleCopyData(ctx, m.Data); err != nil {
				return err
			}
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication from slot %s: %s (SQLSTATE %s)", r.cfg.slot, m.Message, m.Code)
		}
	}
}

func (r *reader) maybeHeartbeat(ctx context.Context) error {
	if r.cfg.heartbeat <= 0 || r.inTxn || time.Since(r.lastHeartbeat) < r.cfg.heartbeat {
		return nil
	}
	r.lastHeartbeat = time.Now()
	lsn := max(r.walEnd, r.lastDone)
	// NB: serial -1: nothing of a transaction committing at lsn has been handed out.
	rec := r.heartbeat(map[string]any{offsetLSN: int64(lsn), offsetLSNCommit: int64(lsn), offsetEventSerial: int64(-1),
		offsetTxID: int64(r.xid), offsetTsUsec: time.Now().UnixMicro()})
	return r.send(ctx, item{rec: rec, doneLSN: lsn})
}

// heartbeat builds a record for __debezium-heartbeat.<topic.prefix> carrying offset.
func (r *reader) heartbeat(offset map[string]any) *connect.SourceRecord {
	key := connect.NewStruct(heartbeatKeySchema)
	_ = key.Put("serverName", r.cfg.topicPrefix)
	value := connect.NewStruct(heartbeatValueSchema)
	_ = value.Put("ts_ms", time.Now().UnixMilli())
	return &connect.SourceRecord{SourcePartition: r.t.partition, SourceOffset: offset,
		Topic:     "__debezium-heartbeat." + r.cfg.topicPrefix,
		KeySchema: heartbeatKeySchema, Key: key, ValueSchema: heartbeatValueSchema, Value: value}
}

var (
	heartbeatKeySchema   = connect.NewStructSchema("io.debezium.connector.common.ServerNameKey").Field("serverName", connect.StringSchema).Build()
	heartbeatValueSchema = connect.NewStructSchema("io.debezium.connector.common.Heartbeat").Field("ts_ms", connect.Int64Schema).Build()
)

func (r *reader) handleCopyData(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("replication from slot %s: %w", r.cfg.slot, err)
		}
		if !r.inTxn && ka.ServerWALEnd > r.walEnd {
			r.walEnd = ka.ServerWALEnd
		}
		if ka.ReplyRequested {
			return r.sendStatus(ctx, true)
		}
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("replication from slot %s: %w", r.cfg.slot, err)
		}
		msg, err := pglogrepl.Parse(xld.WALData)
		if err != nil {
			return fmt.Errorf("replication from slot %s: decoding pgoutput message: %w", r.cfg.slot, err)
		}
		return r.handleMessage(ctx, xld.WALStart, msg)
	}
	return nil
}

func (r *reader) handleMessage(ctx context.Context, lsn pglogrepl.LSN, msg pglogrepl.Message) error {
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		return r.relation(ctx, m)
	case *pglogrepl.BeginMessage:
		r.inTxn, r.xid, r.finalLSN, r.commitTime, r.serial = true, m.Xid, m.FinalLSN, m.CommitTime, 0
		r.skipTxn = m.FinalLSN < r.resume.commitLSN
	case *pglogrepl.CommitMessage:
		r.inTxn = false
		r.lastCommit = r.finalLSN
		return r.send(ctx, item{doneLSN: m.TransactionEndLSN})
	case *pglogrepl.InsertMessage:
		return r.change(ctx, lsn, m.RelationID, "c", 0, nil, m.Tuple)
	case *pglogrepl.UpdateMessage:
		return r.change(ctx, lsn, m.RelationID, "u", m.OldTupleType, m.OldTuple, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		return r.change(ctx, lsn, m.RelationID, "d", m.OldTupleType, m.OldTuple, nil)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if err := r.change(ctx, lsn, id, "t", 0, nil, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *reader) relation(ctx context.Context, m *pglogrepl.RelationMessage) error {
	if !r.cfg.captured(m.Namespace, m.RelationName) {
		r.tables[m.RelationID] = nil
		return nil
	}
	catalog, err := loadColumns(ctx, r.t.meta, m.RelationID)
	if err != nil {
		return errConnection("catalog", r.cfg, fmt.Errorf("reading columns of %s.%s: %w", m.Namespace, m.RelationName, err))
	}
	byName := map[string]catalogColumn{}
	for _, c := range catalog {
		byName[c.name] = c
	}
	cols := make([]catalogColumn, len(m.Columns))
	for i, mc := range m.Columns {
		cc, ok := byName[mc.Name]
		if !ok {
			cc = catalogColumn{keyPos: -1}
		}
		cols[i] = catalogColumn{name: mc.Name, oid: mc.DataType, typmod: mc.TypeModifier, notNull: cc.notNull, keyPos: cc.keyPos}
	}
	tb, err := newTable(r.cfg, m.RelationID, m.Namespace, m.RelationName, cols)
	if err != nil {
		return err
	}
	r.tables[m.RelationID] = tb
	return nil
}

func tupleCells(td *pglogrepl.TupleData) []cell {
	if td == nil {
		return nil
	}
	out := make([]cell, len(td.Columns))
	for i, c := range td.Columns {
		switch c.DataType {
		case 't', 'b':
			out[i] = cell{kind: 't', text: string(c.Data)}
		case 'u':
			out[i] = cell{kind: 'u'}
		default:
			out[i] = cell{kind: 'n'}
		}
	}
	return out
}

// change turns one row change into records: the event, plus a tombstone after a delete, and for
// an update that changes the key a delete (+ tombstone) of the old key and a create of the new.
func (r *reader) change(ctx context.Context, lsn pglogrepl.LSN, relID uint32, op string, oldType uint8, oldTuple, newTuple *pglogrepl.TupleData) error {
	r.serial++
	tb, known := r.tables[relID]
	if !known {
		return fmt.Errorf("replication from slot %s: change for relation %d before its relation message", r.cfg.slot, relID)
	}
	if tb == nil || r.skipTxn || (r.finalLSN == r.resume.commitLSN && r.serial <= r.resume.serial) {
		return nil
	}
	si := sourceInfo{snapshot: "false", commitTime: r.commitTime, txID: int64(r.xid), lsn: int64(lsn), lastCommit: int64(r.lastCommit), db: r.cfg.dbname}
	offset := map[string]any{offsetLSN: int64(lsn), offsetTxID: int64(r.xid), offsetTsUsec: r.commitTime.UnixMicro(),
		offsetLSNCommit: int64(r.finalLSN), offsetEventSerial: r.serial}
	now := time.Now()
	var recs []*connect.SourceRecord
	emit := func(key *connect.Struct, value *connect.Struct) {
		rec := &connect.SourceRecord{SourcePartition: r.t.partition, SourceOffset: offset, Topic: tb.topic,
			KeySchema: tb.keySchema, Key: key}
		if value != nil {
			rec.ValueSchema, rec.Value = tb.envelopeSchema, value
		}
		recs = append(recs, rec)
	}
	oldCells, newCells := tupleCells(oldTuple), tupleCells(newTuple)
	if oldType == 'O' && len(oldCells) == len(newCells) {
		// NB: pgoutput leaves an unchanged TOASTed value out of the new row ('u'); with REPLICA
		// IDENTITY FULL the old row carries it in full, so after gets the value, not the placeholder.
		for i := range newCells {
			if newCells[i].kind == 'u' && oldCells[i].kind != 'u' {
				newCells[i] = oldCells[i]
			}
		}
	}
	var before, after *connect.Struct
	var err error
	if oldCells != nil {
		if before, err = tb.rowStruct(oldCells); err != nil {
			return err
		}
	}
	if newCells != nil {
		if after, err = tb.rowStruct(newCells); err != nil {
			return err
		}
	}
	if r.cfg.skipped[op] {
		return nil
	}
	switch op {
	case "t":
		rec := &connect.SourceRecord{SourcePartition: r.t.partition, SourceOffset: offset, Topic: tb.topic,
			ValueSchema: tb.envelopeSchema, Value: tb.envelope(r.cfg, "t", nil, nil, si, now)}
		recs = append(recs, rec)
	case "c":
		key, err := tb.keyStruct(newCells)
		if err != nil {
			return err
		}
		emit(key, tb.envelope(r.cfg, "c", nil, after, si, now))
	case "u":
		key, err := tb.keyStruct(newCells)
		if err != nil {
			return err
		}
		if oldCells != nil && !tb.sameKey(oldCells, newCells) {
			oldKey, err := tb.keyStruct(oldCells)
			if err != nil {
				return err
			}
			emit(oldKey, tb.envelope(r.cfg, "d", before, nil, si, now))
			if r.cfg.tombstones {
				emit(oldKey, nil)
			}
			emit(key, tb.envelope(r.cfg, "c", nil, after, si, now))
			break
		}
		if oldType != 'O' {
			before = nil // only REPLICA IDENTITY FULL gives a before image of an update
		}
		emit(key, tb.envelope(r.cfg, "u", before, after, si, now))
	case "d":
		if oldCells == nil {
			return fmt.Errorf("table %s.%s: delete without an old key image (REPLICA IDENTITY NOTHING?): set REPLICA IDENTITY DEFAULT or FULL", tb.schema, tb.name)
		}
		key, err := tb.keyStruct(oldCells)
		if err != nil {
			return err
		}
		emit(key, tb.envelope(r.cfg, "d", before, nil, si, now))
		if r.cfg.tombstones {
			emit(key, nil)
		}
	}
	for _, rec := range recs {
		if err := r.send(ctx, item{rec: rec}); err != nil {
			return err
		}
	}
	return nil
}
