package cron

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/connectors/postgres"
	"github.com/gregor-streams/gregor/internal/pgsql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	robfig "github.com/robfig/cron/v3"
)

// scheduler decides when runs start; it is the task's clock-free core.
type scheduler struct {
	schedule robfig.Schedule
	next     time.Time
}

// newScheduler places the first run. If a fire was missed since lastFire (the zero time if none is
// stored), catchup=once runs at once and catchup=skip waits for the next fire.
func newScheduler(s robfig.Schedule, lastFire, now time.Time, catchup string) *scheduler {
	sc := &scheduler{schedule: s, next: s.Next(now)}
	if !lastFire.IsZero() && catchup == CatchupOnce && !s.Next(lastFire).After(now) {
		sc.next = now
	}
	return sc
}

// due reports whether a run should start at now.
func (sc *scheduler) due(now time.Time) bool { return !now.Before(sc.next) }

// ran records that the run fired at fire has ended at now. Fires that passed during the run are
// skipped: runs never overlap and never queue up.
func (sc *scheduler) ran(fire, now time.Time) {
	sc.next = sc.schedule.Next(fire)
	if !sc.next.After(now) {
		sc.next = sc.schedule.Next(now)
	}
}

// maxIdleWait bounds how long an idle Poll blocks, so pauses and offset flushes stay prompt.
const maxIdleWait = 200 * time.Millisecond

// SourceTask runs the query on schedule over one connection. The worker calls Start, Poll and
// Stop from one goroutine, so it needs no lock.
type SourceTask struct {
	cfg    *config
	conn   *pgx.Conn
	sched  *scheduler
	ctx    context.Context // cancelled by Stop; runs' queries live in it
	cancel context.CancelFunc

	// Position of the last row handed out, and the fire of its run.
	inc      *int64
	ts       *time.Time
	lastFire time.Time

	run *run // the run in progress, or nil
}

// run is a query whose rows are being handed out.
type run struct {
	fire   time.Time
	sql    string
	rows   pgx.Rows
	schema *connect.Schema
	convs  []func(any) (any, error)
	incIdx int // column index of the incrementing column, or -1
	tsIdx  int
}

// Start implements connect.SourceTask: it reads the stored offset and connects.
func (t *SourceTask) Start(ctx connect.SourceTaskContext, raw map[string]string) error {
	cfg, err := parseConfig(raw)
	if err != nil {
		return err
	}
	t.cfg = cfg
	off, err := ctx.OffsetReader().Offset(cfg.partition())
	if err != nil {
		return fmt.Errorf("cron query source: reading the offset of %v: %w", cfg.partition(), err)
	}
	if err := t.restore(off); err != nil {
		return err
	}
	t.sched = newScheduler(cfg.schedule, t.lastFire, time.Now(), cfg.catchup)
	t.ctx, t.cancel = context.WithCancel(context.Background())
	cctx, cancel := context.WithTimeout(t.ctx, 30*time.Second)
	defer cancel()
	if t.conn, err = postgres.Connect(cctx, raw); err != nil {
		return fmt.Errorf("cron query source: %w", err)
	}
	return nil
}

// restore reads a stored offset (JSON numbers come back as int64, or float64 from other writers).
func (t *SourceTask) restore(off map[string]any) error {
	if off == nil {
		return nil
	}
	num := func(key string) (int64, bool, error) {
		v, ok := off[key]
		if !ok || v == nil {
			return 0, false, nil
		}
		switch n := v.(type) {
		case int64:
			return n, true, nil
		case float64:
			return int64(n), true, nil
		}
		return 0, false, fmt.Errorf("cron query source: stored offset %v has a non-numeric %q", off, key)
	}
	if n, ok, err := num(OffsetIncrementing); err != nil {
		return err
	} else if ok && t.cfg.incCol != "" {
		t.inc = &n
	}
	ms, ok, err := num(OffsetTimestamp)
	if err != nil {
		return err
	}
	if ok && t.cfg.tsCol != "" {
		nanos, _, err := num(OffsetTimestampNanos)
		if err != nil {
			return err
		}
		ts := time.UnixMilli(ms).Truncate(time.Second).Add(time.Duration(nanos)).UTC()
		t.ts = &ts
	}
	if n, ok, err := num(OffsetLastFire); err != nil {
		return err
	} else if ok {
		t.lastFire = time.UnixMilli(n)
	}
	return nil
}

// Poll implements connect.SourceTask: between runs it waits (briefly) for the next fire; during a
// run it hands out up to batch.max.rows rows.
func (t *SourceTask) Poll(ctx context.Context) ([]connect.SourceRecord, error) {
	if t.run == nil {
		now := time.Now()
		if !t.sched.due(now) {
			timer := time.NewTimer(min(t.sched.next.Sub(now), maxIdleWait))
			defer timer.Stop()
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
			return nil, nil
		}
		if err := t.startRun(now); err != nil {
			return nil, err
		}
	}
	r := t.run
	records := make([]connect.SourceRecord, 0, min(t.cfg.batchMaxRows, 1024))
	for len(records) < t.cfg.batchMaxRows {
		if !r.rows.Next() {
			err := r.rows.Err()
			r.rows.Close()
			t.run = nil
			t.sched.ran(r.fire, time.Now())
			if err != nil {
				return nil, t.queryError(r.sql, err)
			}
			break
		}
		rec, err := t.record(r)
		if err != nil {
			r.rows.Close()
			t.run = nil
			return nil, err
		}
		records = append(records, rec)
	}
	return records, nil
}

func (t *SourceTask) startRun(fire time.Time) error {
	sql, args := buildQuery(t.cfg, t.inc, t.ts)
	rows, err := t.conn.Query(t.ctx, sql, args...)
	if err != nil {
		return t.queryError(sql, err)
	}
	r := &run{fire: fire, sql: sql, rows: rows, incIdx: -1, tsIdx: -1}
	name := t.cfg.table
	if i := strings.LastIndex(name, "."); i >= 0 {
		name = name[i+1:]
	}
	b := connect.NewStructSchema(name)
	for i, fd := range rows.FieldDescriptions() {
		s, conv := columnType(fd.DataTypeOID)
		b.Field(fd.Name, s)
		r.convs = append(r.convs, conv)
		switch fd.Name {
		case t.cfg.incCol:
			r.incIdx = i
		case t.cfg.tsCol:
			r.tsIdx = i
		}
	}
	r.schema = b.Build()
	if t.cfg.incCol != "" && r.incIdx < 0 {
		rows.Close()
		return fmt.Errorf("cron query source: the result of %q has no column %q (incrementing.column.name)", sql, t.cfg.incCol)
	}
	if t.cfg.tsCol != "" && r.tsIdx < 0 {
		rows.Close()
		return fmt.Errorf("cron query source: the result of %q has no column %q (timestamp.column.name)", sql, t.cfg.tsCol)
	}
	t.run = r
	return nil
}

func (t *SourceTask) queryError(sql string, err error) error {
	if t.conn.IsClosed() {
		return fmt.Errorf("cron query source: connection lost while running %q: %w", sql, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Position > 0 {
		return fmt.Errorf("cron query source: query %q failed: %w (at character %d)", sql, err, pe.Position)
	}
	return fmt.Errorf("cron query source: query %q failed: %w", sql, err)
}

// record converts the current row and advances the task's position past it.
func (t *SourceTask) record(r *run) (connect.SourceRecord, error) {
	vals, err := r.rows.Values()
	if err != nil {
		return connect.SourceRecord{}, t.queryError(r.sql, err)
	}
	st := connect.NewStruct(r.schema)
	for i, v := range vals {
		cv, err := r.convs[i](v)
		if err != nil {
			return connect.SourceRecord{}, fmt.Errorf("cron query source: column %q: %w", r.schema.Fields[i].Name, err)
		}
		if err := st.Put(r.schema.Fields[i].Name, cv); err != nil {
			return connect.SourceRecord{}, fmt.Errorf("cron query source: %w", err)
		}
	}
	offset := map[string]any{OffsetLastFire: r.fire.UnixMilli()}
	if r.incIdx >= 0 {
		n, ok := asInt64(vals[r.incIdx])
		if !ok {
			return connect.SourceRecord{}, fmt.Errorf("cron query source: incrementing.column.name %q is %v (%T), not a non-null integer", t.cfg.incCol, vals[r.incIdx], vals[r.incIdx])
		}
		t.inc = &n
		offset[OffsetIncrementing] = n
	}
	if r.tsIdx >= 0 {
		ts, ok := vals[r.tsIdx].(time.Time)
		if !ok {
			return connect.SourceRecord{}, fmt.Errorf("cron query source: timestamp.column.name %q is %v (%T), not a non-null timestamp", t.cfg.tsCol, vals[r.tsIdx], vals[r.tsIdx])
		}
		ts = ts.UTC()
		t.ts = &ts
		offset[OffsetTimestamp] = ts.UnixMilli()
		offset[OffsetTimestampNanos] = int64(ts.Nanosecond())
	}
	t.lastFire = r.fire
	return connect.SourceRecord{
		SourcePartition: t.cfg.partition(),
		SourceOffset:    offset,
		Topic:           t.cfg.topic,
		ValueSchema:     r.schema,
		Value:           st,
	}, nil
}

// Stop implements connect.SourceTask: it abandons a run in progress and closes the connection.
// Idempotent.
func (t *SourceTask) Stop() error {
	if t.cancel != nil {
		t.cancel()
	}
	if t.run != nil {
		t.run.rows.Close()
		t.run = nil
	}
	if t.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := t.conn.Close(ctx)
	t.conn = nil
	return err
}

// buildQuery renders a run's SELECT and its arguments from the mode and the last position.
func buildQuery(c *config, inc *int64, ts *time.Time) (string, []any) {
	var b strings.Builder
	if c.table != "" {
		b.WriteString("SELECT * FROM " + pgsql.QuoteIdent(strings.Split(c.table, ".")...))
	} else {
		b.WriteString("SELECT * FROM (" + strings.TrimRight(strings.TrimSpace(c.query), ";") + ") AS cron_query")
	}
	ic, tc := pgsql.QuoteIdent(c.incCol), pgsql.QuoteIdent(c.tsCol)
	var args []any
	switch c.mode {
	case ModeIncrementing:
		if inc != nil {
			b.WriteString(" WHERE " + ic + " > $1")
			args = append(args, *inc)
		}
		b.WriteString(" ORDER BY " + ic)
	case ModeTimestamp:
		// NB: rows stamped at or after the run's start may still be committing; take them next run.
		b.WriteString(" WHERE " + tc + " < now()")
		if ts != nil {
			b.WriteString(" AND " + tc + " > $1")
			args = append(args, *ts)
		}
		b.WriteString(" ORDER BY " + tc)
	case ModeTimestampIncrementing:
		b.WriteString(" WHERE " + tc + " < now()")
		if ts != nil {
			if inc == nil {
				var zero int64 = -1 << 63
				inc = &zero
			}
			b.WriteString(" AND (" + tc + " > $1 OR (" + tc + " = $1 AND " + ic + " > $2))")
			args = append(args, *ts, *inc)
		}
		b.WriteString(" ORDER BY " + tc + ", " + ic)
	}
	return b.String(), args
}

// columnType maps a column to an optional Connect schema and a converter of pgx's decoded value.
func columnType(oid uint32) (*connect.Schema, func(any) (any, error)) {
	opt := func(t connect.Type, name string) *connect.Schema {
		return &connect.Schema{Type: t, Optional: true, Name: name}
	}
	same := func(v any) (any, error) { return v, nil }
	switch oid {
	case pgsql.OIDBool, pgsql.OIDInt8, pgsql.OIDInt2, pgsql.OIDInt4, pgsql.OIDFloat4, pgsql.OIDFloat8, pgsql.OIDBytea:
		t := map[uint32]connect.Type{pgsql.OIDBool: connect.TypeBoolean, pgsql.OIDInt8: connect.TypeInt64, pgsql.OIDInt2: connect.TypeInt16,
			pgsql.OIDInt4: connect.TypeInt32, pgsql.OIDFloat4: connect.TypeFloat32, pgsql.OIDFloat8: connect.TypeFloat64, pgsql.OIDBytea: connect.TypeBytes}[oid]
		return opt(t, ""), same
	case pgsql.OIDText, pgsql.OIDVarchar, pgsql.OIDBPChar, pgsql.OIDName:
		return opt(connect.TypeString, ""), same
	case pgsql.OIDTimestamp, pgsql.OIDTimestamptz:
		return opt(connect.TypeInt64, connect.TimestampSchemaName), func(v any) (any, error) {
			if v == nil {
				return nil, nil
			}
			tm, ok := v.(time.Time)
			if !ok {
				return toString(v) // infinity
			}
			return tm.UnixMilli(), nil
		}
	case pgsql.OIDDate:
		return opt(connect.TypeInt32, connect.DateSchemaName), func(v any) (any, error) {
			if v == nil {
				return nil, nil
			}
			tm, ok := v.(time.Time)
			if !ok {
				return nil, fmt.Errorf("date %v cannot be a Connect Date", v)
			}
			return int32(tm.Unix() / 86400), nil
		}
	case pgsql.OIDTime:
		return opt(connect.TypeInt32, connect.TimeSchemaName), func(v any) (any, error) {
			if v == nil {
				return nil, nil
			}
			tv, ok := v.(pgtype.Time)
			if !ok || !tv.Valid {
				return nil, fmt.Errorf("time %v (%T) cannot be a Connect Time", v, v)
			}
			return int32(tv.Microseconds / 1000), nil
		}
	default:
		return opt(connect.TypeString, ""), toString
	}
}

// toString renders any other decoded value as text: driver.Valuer types (numeric, time, interval)
// by their value, UUIDs in their usual form, JSON re-encoded.
func toString(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return x, nil
	case [16]byte:
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16]), nil
	case []byte:
		return string(x), nil
	case driver.Valuer:
		dv, err := x.Value()
		if err != nil {
			return nil, err
		}
		if dv == nil {
			return nil, nil
		}
		switch d := dv.(type) {
		case string:
			return d, nil
		case time.Time:
			return d.UTC().Format(time.RFC3339Nano), nil
		case []byte:
			return string(d), nil
		default:
			return fmt.Sprint(d), nil
		}
	case map[string]any, []any, bool, float64:
		data, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return string(data), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	default:
		return fmt.Sprint(x), nil
	}
}

func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}
