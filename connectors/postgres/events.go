package postgres

import (
	"fmt"
	"time"

	"github.com/gregor-streams/gregor/connect"
)

// column is one captured column of a table.
type column struct {
	name     string
	oid      uint32
	typmod   int32
	optional bool
	keyPos   int // position in the primary key, -1 if not part of it
	excluded bool
	vt       valueType
}

// table is a captured table with the schemas of its events. Schemas are built once per table
// version, so the JSON converter renders each one once.
type table struct {
	oid          uint32
	schema, name string
	topic        string
	cols         []column // in attnum order (the order of pgoutput's tuples)
	keyCols      []int    // indexes into cols, in primary-key order

	keySchema, valueSchema, envelopeSchema *connect.Schema
}

// catalogColumn is a column as the catalog describes it.
type catalogColumn struct {
	name    string
	oid     uint32
	typmod  int32
	notNull bool
	keyPos  int
}

func newTable(c *config, oid uint32, schema, name string, catalog []catalogColumn) (*table, error) {
	t := &table{oid: oid, schema: schema, name: name, topic: c.topicPrefix + "." + schema + "." + name}
	prefix := c.topicPrefix + "." + schema + "." + name
	keyByPos := map[int]int{}
	for _, cc := range catalog {
		col := column{name: cc.name, oid: cc.oid, typmod: cc.typmod, optional: !cc.notNull, keyPos: cc.keyPos}
		col.excluded = cc.keyPos < 0 && c.columnExcluded(schema, name, cc.name)
		col.vt = typeFor(cc.oid, cc.typmod, col.optional, c)
		if cc.keyPos >= 0 {
			keyByPos[cc.keyPos] = len(t.cols)
		}
		t.cols = append(t.cols, col)
	}
	if len(keyByPos) == 0 {
		return nil, fmt.Errorf("table %s.%s has no primary key: change events need one for their record key; add a primary key or leave the table out with %s", schema, name, ConfigTableExclude)
	}
	for p := 0; p < len(keyByPos); p++ {
		i, ok := keyByPos[p]
		if !ok {
			return nil, fmt.Errorf("table %s.%s: primary key column %d not found in the catalog", schema, name, p)
		}
		t.keyCols = append(t.keyCols, i)
	}
	kb := connect.NewStructSchema(prefix + ".Key")
	for _, i := range t.keyCols {
		kb.Field(t.cols[i].name, t.cols[i].vt.schema)
	}
	t.keySchema = kb.Build()
	vb := connect.NewStructSchema(prefix + ".Value").Optional()
	for _, col := range t.cols {
		if !col.excluded {
			vb.Field(col.name, col.vt.schema)
		}
	}
	t.valueSchema = vb.Build()
	optInt64 := &connect.Schema{Type: connect.TypeInt64, Optional: true}
	t.envelopeSchema = connect.NewStructSchema(prefix+".Envelope").
		Field("before", t.valueSchema).
		Field("after", t.valueSchema).
		Field("source", sourceSchema).
		Field("transaction", transactionSchema).
		Field("op", connect.StringSchema).
		Field("ts_ms", optInt64).
		Field("ts_us", optInt64).
		Field("ts_ns", optInt64).
		Build()
	t.envelopeSchema.Version = 2
	return t, nil
}

var (
	optString = &connect.Schema{Type: connect.TypeString, Optional: true}
	optInt64  = &connect.Schema{Type: connect.TypeInt64, Optional: true}

	// sourceSchema is Debezium's io.debezium.connector.postgresql.Source.
	sourceSchema = func() *connect.Schema {
		snapshot := &connect.Schema{Type: connect.TypeString, Optional: true, Name: nameEnum, Version: 1, Default: "false",
			Parameters: map[string]string{"allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"}}
		return connect.NewStructSchema("io.debezium.connector.postgresql.Source").
			Field("version", connect.StringSchema).
			Field("connector", connect.StringSchema).
			Field("name", connect.StringSchema).
			Field("ts_ms", connect.Int64Schema).
			Field("snapshot", snapshot).
			Field("db", connect.StringSchema).
			Field("sequence", optString).
			Field("ts_us", optInt64).
			Field("ts_ns", optInt64).
			Field("schema", connect.StringSchema).
			Field("table", connect.StringSchema).
			Field("txId", optInt64).
			Field("lsn", optInt64).
			Field("xmin", optInt64).
			Build()
	}()

	// transactionSchema is Debezium's event.block (transaction metadata, left null here).
	transactionSchema = func() *connect.Schema {
		s := connect.NewStructSchema("event.block").Optional().
			Field("id", connect.StringSchema).
			Field("total_order", connect.Int64Schema).
			Field("data_collection_order", connect.Int64Schema).
			Build()
		s.Version = 1
		return s
	}()
)

// cell is one column of a row image as read from pgoutput or the snapshot.
type cell struct {
	kind byte // 'n' null, 'u' unchanged TOAST (not sent), 't' text
	text string
}

// rowStruct builds the Value struct of a row image. keyOnly marks an old-key image, where
// non-key columns are absent.
func (t *table) rowStruct(cells []cell) (*connect.Struct, error) {
	if len(cells) != len(t.cols) {
		return nil, fmt.Errorf("table %s.%s: row has %d columns, the table %d (schema changed?)", t.schema, t.name, len(cells), len(t.cols))
	}
	st := connect.NewStruct(t.valueSchema)
	for i, col := range t.cols {
		if col.excluded {
			continue
		}
		v, err := t.cellValue(col, cells[i])
		if err != nil {
			return nil, err
		}
		if err := st.Put(col.name, v); err != nil {
			return nil, fmt.Errorf("table %s.%s column %s: %w", t.schema, t.name, col.name, err)
		}
	}
	return st, nil
}

func (t *table) cellValue(col column, c cell) (any, error) {
	switch c.kind {
	case 'n':
		if col.optional {
			return nil, nil
		}
		return zeroValue(col.vt.schema), nil
	case 'u':
		if col.vt.schema.Type == connect.TypeString {
			return unavailableValue, nil
		}
		if col.optional {
			return nil, nil
		}
		return zeroValue(col.vt.schema), nil
	}
	v, err := col.vt.decode(c.text)
	if err != nil {
		return nil, fmt.Errorf("table %s.%s column %s: %w", t.schema, t.name, col.name, err)
	}
	return v, nil
}

func (t *table) keyStruct(cells []cell) (*connect.Struct, error) {
	st := connect.NewStruct(t.keySchema)
	for _, i := range t.keyCols {
		if i >= len(cells) {
			return nil, fmt.Errorf("table %s.%s: row lacks key column %s", t.schema, t.name, t.cols[i].name)
		}
		v, err := t.cellValue(t.cols[i], cells[i])
		if err != nil {
			return nil, err
		}
		if err := st.Put(t.cols[i].name, v); err != nil {
			return nil, fmt.Errorf("table %s.%s key column %s: %w", t.schema, t.name, t.cols[i].name, err)
		}
	}
	return st, nil
}

// sameKey reports whether two row images have equal key columns.
func (t *table) sameKey(a, b []cell) bool {
	for _, i := range t.keyCols {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			return false
		}
	}
	return true
}

// sourceInfo is what the source block of an event says.
type sourceInfo struct {
	snapshot   string // "true", "last", "false"
	commitTime time.Time
	txID       int64
	lsn        int64
	lastCommit int64 // lsn of the previous transaction's commit, for "sequence"
	db         string
}

func (t *table) source(c *config, si sourceInfo) *connect.Struct {
	st := connect.NewStruct(sourceSchema)
	put := func(k string, v any) { _ = st.Put(k, v) } // NB: types match sourceSchema by construction
	put("version", connect.Version)
	put("connector", "postgresql")
	put("name", c.topicPrefix)
	put("ts_ms", si.commitTime.UnixMilli())
	put("ts_us", si.commitTime.UnixMicro())
	put("ts_ns", si.commitTime.UnixNano())
	put("snapshot", si.snapshot)
	put("db", si.db)
	put("sequence", fmt.Sprintf(`["%d","%d"]`, si.lastCommit, si.lsn))
	put("schema", t.schema)
	put("table", t.name)
	if si.txID != 0 {
		put("txId", si.txID)
	}
	if si.lsn != 0 {
		put("lsn", si.lsn)
	}
	return st
}

// envelope builds an event value.
func (t *table) envelope(c *config, op string, before, after *connect.Struct, si sourceInfo, now time.Time) *connect.Struct {
	env := connect.NewStruct(t.envelopeSchema)
	put := func(k string, v any) { _ = env.Put(k, v) } // NB: types match envelopeSchema by construction
	if before != nil {
		put("before", before)
	}
	if after != nil {
		put("after", after)
	}
	put("source", t.source(c, si))
	put("op", op)
	put("ts_ms", now.UnixMilli())
	put("ts_us", now.UnixMicro())
	put("ts_ns", now.UnixNano())
	return env
}
