package postgres

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/pgsql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// tableInfo is what the writer knows of a table: its columns' types, in full (format_type with
// modifiers, for messages) and as the modifier-less type the statements cast to (types).
//
// NB: values are cast to the type without modifier and reach the column by assignment, which
// checks the modifier (an explicit cast to varchar(3) would silently truncate "toolong").
type tableInfo struct {
	types map[string]string
	full  map[string]string
}

// writer turns changes into SQL over one connection. It caches table metadata; the cache is
// dropped whenever a transaction fails, since DDL in it rolled back too.
type writer struct {
	conn   *pgx.Conn
	cfg    *sinkConfig
	logger *slog.Logger
	tables map[tableName]*tableInfo
}

func newWriter(conn *pgx.Conn, cfg *sinkConfig, logger *slog.Logger) *writer {
	return &writer{conn: conn, cfg: cfg, logger: logger, tables: map[tableName]*tableInfo{}}
}

// write applies changes in one transaction: all or nothing.
func (w *writer) write(ctx context.Context, changes []change) (err error) {
	tx, err := w.conn.Begin(ctx)
	if err != nil {
		return w.failure(err, "begin")
	}
	defer func() {
		if err == nil {
			return
		}
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tx.Rollback(rctx)
		clear(w.tables)
		var de *dataError
		if errors.As(err, &de) && !w.conn.IsClosed() {
			err = w.diagnose(rctx, de)
		}
	}()
	for i := 0; i < len(changes); {
		j := i + 1
		for j < len(changes) && j-i < w.cfg.batchSize && changes[j].shape == changes[i].shape {
			j++
		}
		if err := w.writeGroup(ctx, tx, changes[i:j]); err != nil {
			return err
		}
		i = j
	}
	if err := tx.Commit(ctx); err != nil {
		return w.failure(err, "commit")
	}
	return nil
}

// failure wraps a database error: a lost connection says so and names the (redacted) target.
func (w *writer) failure(err error, what string) error {
	var pe *pgconn.PgError
	if w.conn.IsClosed() || (errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P"))) {
		cs, _ := ConnString(w.cfg.conn)
		return fmt.Errorf("postgres sink: connection to %s lost (%s): %w; restart the task once Postgres is reachable", Redact(cs), what, err)
	}
	return fmt.Errorf("postgres sink: %s: %w", what, err)
}

// dataError is a statement that failed on a value; diagnose finds the column after rollback.
type dataError struct {
	table  tableName
	kind   opKind
	rows   int
	names  []string
	types  []string // cast types
	full   []string // column types with modifiers
	arrays [][]*string
	err    error
}

func (e *dataError) Error() string {
	return fmt.Sprintf("postgres sink: %s of %d rows into table %s: %v", e.kind, e.rows, e.table, e.err)
}

func (e *dataError) Unwrap() error { return e.err }

// diagnose writes each column's values on their own into a scratch column of the same type (in a
// transaction it rolls back) to name the column whose value is invalid.
func (w *writer) diagnose(ctx context.Context, de *dataError) error {
	var pe *pgconn.PgError
	if !errors.As(de.err, &pe) || !strings.HasPrefix(pe.Code, "22") {
		return de
	}
	for i, name := range de.names {
		if w.failsAlone(ctx, de.full[i], de.types[i], de.arrays[i], pe.Code) {
			return fmt.Errorf("postgres sink: %s of %d rows into table %s: column %q (%s): %w", de.kind, de.rows, de.table, name, de.full[i], de.err)
		}
	}
	return de
}

func (w *writer) failsAlone(ctx context.Context, full, cast string, values []*string, code string) bool {
	tx, err := w.conn.Begin(ctx)
	if err != nil {
		return false
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE gregor_sink_diagnosis (x "+full+") ON COMMIT DROP"); err != nil {
		return false
	}
	_, err = tx.Exec(ctx, "INSERT INTO gregor_sink_diagnosis SELECT v::"+cast+" FROM unnest($1::text[]) AS v", values)
	var ce *pgconn.PgError
	return errors.As(err, &ce) && ce.Code == code
}

// writeGroup writes changes of one shape (kind, table, columns) with one statement.
func (w *writer) writeGroup(ctx context.Context, tx pgx.Tx, group []change) error {
	first := &group[0]
	info, err := w.table(ctx, tx, first)
	if err != nil {
		return err
	}
	if info == nil {
		return nil // a delete from a table that does not exist
	}
	if first.kind == opUpdate && len(first.cols) == 0 {
		return nil // nothing to set
	}
	names := make([]string, 0, len(first.keys)+len(first.cols))
	for _, c := range first.keys {
		names = append(names, c.name)
	}
	for _, c := range first.cols {
		names = append(names, c.name)
	}
	types, full := make([]string, len(names)), make([]string, len(names))
	for i, n := range names {
		types[i], full[i] = info.types[n], info.full[n]
	}
	rows := group
	if first.kind != opInsert {
		rows = lastPerKey(group, types)
	}
	arrays := make([][]*string, len(names))
	for i := range arrays {
		arrays[i] = make([]*string, len(rows))
	}
	for r := range rows {
		ch := &rows[r]
		for i := range names {
			var c *sinkColumn
			if i < len(ch.keys) {
				c = &ch.keys[i]
			} else {
				c = &ch.cols[i-len(ch.keys)]
			}
			v, err := encodeText(c, types[i])
			if err != nil {
				return fmt.Errorf("postgres sink: table %s column %q (%s), record %s: %w", first.table, c.name, full[i], ch.at, err)
			}
			arrays[i][r] = v
		}
	}
	sql := buildSQL(first, names, types)
	args := make([]any, len(arrays))
	for i := range arrays {
		args[i] = arrays[i]
	}
	if _, err := tx.Exec(ctx, sql, args...); err != nil {
		if w.conn.IsClosed() {
			return w.failure(err, fmt.Sprintf("%s into table %s", first.kind, first.table))
		}
		return &dataError{table: first.table, kind: first.kind, rows: len(rows), names: names, types: types, full: full, arrays: arrays, err: describe(err)}
	}
	return nil
}

// describe adds what Postgres knows about a failed statement (detail, column, constraint).
func describe(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	var extra []string
	if pe.Detail != "" {
		extra = append(extra, pe.Detail)
	}
	if pe.ColumnName != "" {
		extra = append(extra, "column "+strconv.Quote(pe.ColumnName))
	}
	if pe.ConstraintName != "" {
		extra = append(extra, "constraint "+strconv.Quote(pe.ConstraintName))
	}
	if len(extra) == 0 {
		return err
	}
	return fmt.Errorf("%w (%s)", err, strings.Join(extra, "; "))
}

// lastPerKey keeps the last change of each primary key, in first-seen order: one statement may
// not touch a row twice (ON CONFLICT DO UPDATE refuses to), and the last change wins anyway.
func lastPerKey(group []change, types []string) []change {
	index := make(map[string]int, len(group))
	out := make([]change, 0, len(group))
	var b strings.Builder
	for _, ch := range group {
		b.Reset()
		for i := range ch.keys {
			v, _ := encodeText(&ch.keys[i], types[i])
			if v != nil {
				b.WriteString(*v)
			}
			b.WriteByte(0)
		}
		k := b.String()
		if i, ok := index[k]; ok {
			out[i] = ch
			continue
		}
		index[k] = len(out)
		out = append(out, ch)
	}
	return out
}

// buildSQL renders the statement for a group: the values arrive as one text[] per column, are
// unnest'ed into rows and cast to the columns' types.
func buildSQL(ch *change, names, types []string) string {
	var b strings.Builder
	from := func() {
		b.WriteString("unnest(")
		for i := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d::text[]", i+1)
		}
		b.WriteString(") AS v(")
		for i := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "c%d", i+1)
		}
		b.WriteString(")")
	}
	cast := func(i int) string { return fmt.Sprintf("v.c%d::%s", i+1, types[i]) }
	keyMatch := func() {
		b.WriteString(" WHERE ")
		for i := range ch.keys {
			if i > 0 {
				b.WriteString(" AND ")
			}
			fmt.Fprintf(&b, "t.%s = %s", pgsql.QuoteIdent(names[i]), cast(i))
		}
	}
	nk := len(ch.keys)
	switch ch.kind {
	case opInsert, opUpsert:
		fmt.Fprintf(&b, "INSERT INTO %s (", ch.table.quoted())
		for i, n := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pgsql.QuoteIdent(n))
		}
		b.WriteString(") SELECT ")
		for i := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(cast(i))
		}
		b.WriteString(" FROM ")
		from()
		if ch.kind == opUpsert {
			b.WriteString(" ON CONFLICT (")
			for i := 0; i < nk; i++ {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(pgsql.QuoteIdent(names[i]))
			}
			if len(names) == nk {
				b.WriteString(") DO NOTHING")
				break
			}
			b.WriteString(") DO UPDATE SET ")
			for i := nk; i < len(names); i++ {
				if i > nk {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%s = EXCLUDED.%s", pgsql.QuoteIdent(names[i]), pgsql.QuoteIdent(names[i]))
			}
		}
	case opUpdate:
		fmt.Fprintf(&b, "UPDATE %s AS t SET ", ch.table.quoted())
		for i := nk; i < len(names); i++ {
			if i > nk {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s = %s", pgsql.QuoteIdent(names[i]), cast(i))
		}
		b.WriteString(" FROM ")
		from()
		keyMatch()
	case opDelete:
		fmt.Fprintf(&b, "DELETE FROM %s AS t USING ", ch.table.quoted())
		from()
		keyMatch()
	}
	return b.String()
}

// table returns the table's metadata, creating the table or adding columns as auto.create and
// auto.evolve allow. It returns nil for a delete from a table that does not exist.
func (w *writer) table(ctx context.Context, tx pgx.Tx, ch *change) (*tableInfo, error) {
	info := w.tables[ch.table]
	if info == nil {
		var err error
		if info, err = loadTable(ctx, tx, ch.table); err != nil {
			return nil, w.failure(err, fmt.Sprintf("reading the columns of table %s", ch.table))
		}
		if info == nil {
			if ch.kind == opDelete {
				return nil, nil
			}
			if !w.cfg.autoCreate {
				return nil, fmt.Errorf("postgres sink: table %s does not exist and auto.create is false (record %s)", ch.table, ch.at)
			}
			ddl := createTableSQL(ch)
			w.logger.Info("creating table", "table", ch.table.String(), "sql", ddl)
			if _, err := tx.Exec(ctx, ddl); err != nil {
				return nil, w.failure(describe(err), "creating table "+ch.table.String())
			}
			if info, err = loadTable(ctx, tx, ch.table); err != nil || info == nil {
				return nil, w.failure(fmt.Errorf("table %s vanished after CREATE: %v", ch.table, err), "creating table")
			}
		}
		w.tables[ch.table] = info
	}
	var missing []sinkColumn
	for _, cols := range [][]sinkColumn{ch.keys, ch.cols} {
		for _, c := range cols {
			if _, ok := info.types[c.name]; !ok {
				missing = append(missing, c)
			}
		}
	}
	if len(missing) == 0 {
		return info, nil
	}
	if !w.cfg.autoEvolve {
		return nil, fmt.Errorf("postgres sink: table %s has no column %q, which record %s has, and auto.evolve is false", ch.table, missing[0].name, ch.at)
	}
	for _, c := range missing {
		ddl := fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s", ch.table.quoted(), pgsql.QuoteIdent(c.name), sqlType(&c))
		w.logger.Info("adding column", "table", ch.table.String(), "sql", ddl)
		if _, err := tx.Exec(ctx, ddl); err != nil {
			return nil, w.failure(describe(err), fmt.Sprintf("adding column %q to table %s", c.name, ch.table))
		}
	}
	info, err := loadTable(ctx, tx, ch.table)
	if err != nil || info == nil {
		return nil, w.failure(fmt.Errorf("re-reading table %s: %v", ch.table, err), "auto.evolve")
	}
	w.tables[ch.table] = info
	return info, nil
}

// loadTable reads a table's columns, or returns nil if there is no such table.
func loadTable(ctx context.Context, tx pgx.Tx, t tableName) (*tableInfo, error) {
	var oid *uint32
	if err := tx.QueryRow(ctx, "SELECT to_regclass($1)::oid", t.quoted()).Scan(&oid); err != nil {
		return nil, err
	}
	if oid == nil {
		return nil, nil
	}
	// NB: the cast type is the schema-qualified internal name (pg_catalog.bpchar): format_type's
	// "character" without modifier would mean char(1) and truncate.
	rows, err := tx.Query(ctx, `SELECT a.attname, format('%I.%I', n.nspname, t.typname), format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, *oid)
	if err != nil {
		return nil, err
	}
	info := &tableInfo{types: map[string]string{}, full: map[string]string{}}
	for rows.Next() {
		var name, typ, full string
		if err := rows.Scan(&name, &typ, &full); err != nil {
			rows.Close()
			return nil, err
		}
		info.types[name], info.full[name] = typ, full
	}
	return info, rows.Err()
}

func createTableSQL(ch *change) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", ch.table.quoted())
	n := 0
	for _, c := range ch.keys {
		if n > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s NOT NULL", pgsql.QuoteIdent(c.name), sqlType(&c))
		n++
	}
	for _, c := range ch.cols {
		if n > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", pgsql.QuoteIdent(c.name), sqlType(&c))
		if c.schema != nil && !c.schema.Optional && c.schema.Default == nil {
			b.WriteString(" NOT NULL")
		}
		n++
	}
	if len(ch.keys) > 0 {
		b.WriteString(", PRIMARY KEY (")
		for i, c := range ch.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pgsql.QuoteIdent(c.name))
		}
		b.WriteString(")")
	}
	b.WriteString(")")
	return b.String()
}

// sqlType is the column type auto.create and auto.evolve use for a value: from its Connect schema
// (logical types first), or from the Go value of a schemaless one.
func sqlType(c *sinkColumn) string {
	if s := c.schema; s != nil {
		switch s.Name {
		case connect.DecimalSchemaName, nameVariableDecimal:
			return "numeric"
		case connect.DateSchemaName, nameDate:
			return "date"
		case connect.TimeSchemaName, nameTime, nameMicroTime:
			return "time"
		case connect.TimestampSchemaName, nameTimestamp, nameMicroTimestamp, nameNanoTimestamp:
			return "timestamp"
		case nameZonedTimestamp:
			return "timestamptz"
		case nameJSON:
			return "jsonb"
		case nameUUID:
			return "uuid"
		}
		switch s.Type {
		case connect.TypeInt8, connect.TypeInt16:
			return "smallint"
		case connect.TypeInt32:
			return "integer"
		case connect.TypeInt64:
			return "bigint"
		case connect.TypeFloat32:
			return "real"
		case connect.TypeFloat64:
			return "double precision"
		case connect.TypeBoolean:
			return "boolean"
		case connect.TypeString:
			return "text"
		case connect.TypeBytes:
			return "bytea"
		default:
			return "jsonb"
		}
	}
	switch c.value.(type) {
	case int8, int16:
		return "smallint"
	case int32:
		return "integer"
	case int64, int:
		return "bigint"
	case float32:
		return "real"
	case float64:
		return "double precision"
	case bool:
		return "boolean"
	case []byte:
		return "bytea"
	case map[any]any, map[string]any, []any, *connect.Struct:
		return "jsonb"
	default:
		return "text"
	}
}

// encodeText renders a value as Postgres's text input for a column of type colType (nil is NULL).
func encodeText(c *sinkColumn, colType string) (*string, error) {
	v := c.value
	if v == nil {
		return nil, nil
	}
	// Logical values (*big.Rat, time.Time, as the JSON converter reads them) are encoded from
	// their primitive representation, like values built that way by connectors.
	if c.schema != nil && c.schema.IsLogical() {
		if p, err := connect.LogicalToPrimitive(c.schema, v); err == nil {
			v = p
		}
	}
	str := func(s string) (*string, error) { return &s, nil }
	if c.schema != nil && c.schema.Name != "" {
		switch c.schema.Name {
		case connect.TimestampSchemaName, nameTimestamp:
			if ms, ok := sinkAsInt64(v); ok {
				return str(formatTime(time.UnixMilli(ms)))
			}
		case nameMicroTimestamp:
			if us, ok := sinkAsInt64(v); ok {
				return str(formatTime(time.UnixMicro(us)))
			}
		case nameNanoTimestamp:
			if ns, ok := sinkAsInt64(v); ok {
				return str(formatTime(time.Unix(0, ns)))
			}
		case connect.DateSchemaName, nameDate:
			if days, ok := sinkAsInt64(v); ok {
				return str(time.Unix(days*86400, 0).UTC().Format("2006-01-02"))
			}
		case connect.TimeSchemaName, nameTime:
			if ms, ok := sinkAsInt64(v); ok {
				return str(time.UnixMilli(ms).UTC().Format("15:04:05.999"))
			}
		case nameMicroTime:
			if us, ok := sinkAsInt64(v); ok {
				return str(time.UnixMicro(us).UTC().Format("15:04:05.999999"))
			}
		case connect.DecimalSchemaName:
			if b, ok := v.([]byte); ok {
				scale, err := strconv.Atoi(c.schema.Parameters["scale"])
				if err != nil || scale < -maxDecimalScale || scale > maxDecimalScale {
					return nil, fmt.Errorf("a Decimal without a valid scale parameter: %q", c.schema.Parameters["scale"])
				}
				return str(decimalText(b, scale))
			}
		case nameVariableDecimal:
			// Debezium's unconstrained numeric: a struct of the value's own scale and unscaled bytes.
			if st, ok := v.(*connect.Struct); ok {
				scale, okScale := st.Get("scale").(int32)
				b, okValue := st.Get("value").([]byte)
				if !okScale || !okValue || scale < -maxDecimalScale || scale > maxDecimalScale {
					return nil, fmt.Errorf("a VariableScaleDecimal without a valid scale and value: %v", jsonable(st))
				}
				return str(decimalText(b, int(scale)))
			}
		}
	}
	switch x := v.(type) {
	case string:
		return str(x)
	case bool:
		return str(strconv.FormatBool(x))
	case int8, int16, int32, int64, int:
		i, _ := sinkAsInt64(x)
		return str(strconv.FormatInt(i, 10))
	case float32:
		return str(formatFloat(float64(x), 32))
	case float64:
		return str(formatFloat(x, 64))
	case []byte:
		if colType == "pg_catalog.bytea" || colType == "bytea" {
			return str(`\x` + hex.EncodeToString(x))
		}
		return str(string(x))
	case []any:
		if isArrayType(colType) {
			return arrayLiteral(c.schema, x)
		}
		data, err := json.Marshal(jsonable(x))
		if err != nil {
			return nil, err
		}
		return str(string(data))
	case map[any]any, map[string]any, *connect.Struct:
		data, err := json.Marshal(jsonable(x))
		if err != nil {
			return nil, err
		}
		return str(string(data))
	default:
		return nil, fmt.Errorf("cannot write a %T", v)
	}
}

// isArrayType reports whether a cast type (schema.typname) is an array type, whose internal name
// starts with an underscore (pg_catalog._int4).
func isArrayType(colType string) bool {
	return strings.HasPrefix(colType[strings.LastIndex(colType, ".")+1:], "_")
}

// arrayLiteral renders a Connect array as a Postgres array literal: {"1","x",NULL,{"2"}}.
func arrayLiteral(schema *connect.Schema, elems []any) (*string, error) {
	var es *connect.Schema
	if schema != nil {
		es = schema.ValueSchema
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		if nested, ok := e.([]any); ok {
			v, err := arrayLiteral(es, nested)
			if err != nil {
				return nil, err
			}
			b.WriteString(*v)
			continue
		}
		v, err := encodeText(&sinkColumn{schema: es, value: e}, "")
		if err != nil {
			return nil, fmt.Errorf("array element %d: %w", i, err)
		}
		if v == nil {
			b.WriteString("NULL")
			continue
		}
		b.WriteByte('"')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(*v))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	out := b.String()
	return &out, nil
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.999999Z07:00") }

func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// maxDecimalScale bounds a Decimal's scale (Postgres keeps at most 16383 digits after the point).
const maxDecimalScale = 16383

// decimalText renders Connect's Decimal (big-endian two's complement unscaled value) as text.
func decimalText(b []byte, scale int) string {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	s := n.String()
	if scale <= 0 {
		return s + strings.Repeat("0", -scale)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	if neg {
		s = "-" + s
	}
	return s
}

func sinkAsInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case int:
		return int64(x), true
	}
	return 0, false
}

// jsonable turns Connect values into values encoding/json renders as the JSON converter would.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonable(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	case *connect.Struct:
		out := make(map[string]any, len(x.Schema.Fields))
		for _, f := range x.Schema.Fields {
			out[f.Name] = jsonable(x.Get(f.Name))
		}
		return out
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	}
	return v
}
