package postgres

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/pgsql"
)

// opKind is what a change does to its table.
type opKind int

const (
	opInsert opKind = iota
	opUpsert
	opUpdate
	opDelete
)

func (k opKind) String() string {
	return [...]string{"insert", "upsert", "update", "delete"}[k]
}

// column is one named value of a row; schema is nil for schemaless values.
type sinkColumn struct {
	name   string
	schema *connect.Schema
	value  any
}

// tableName is a possibly schema-qualified table.
type tableName struct{ schema, name string }

// quoted renders the name for SQL and for messages.
func (t tableName) quoted() string {
	if t.schema == "" {
		return pgsql.QuoteIdent(t.name)
	}
	return pgsql.QuoteIdent(t.schema, t.name)
}

func (t tableName) String() string { return t.quoted() }

// change is what one record asks of one table: keys are the primary key columns (empty for
// pk.mode=none), cols the other columns (empty for a delete).
type change struct {
	table tableName
	kind  opKind
	keys  []sinkColumn
	cols  []sinkColumn
	// shape identifies the kind, table and column names: consecutive changes of one shape are
	// written by one statement.
	shape string
	at    string // topic-partition@offset, for messages
}

// toChange turns a record into a change, or nil for a record that changes nothing (a tombstone or
// a Debezium delete without delete.enabled, a truncate event).
func (c *sinkConfig) toChange(r *connect.SinkRecord) (*change, error) {
	ch := &change{table: c.tableFor(r.Topic), at: fmt.Sprintf("%s-%d@%d", r.Topic, r.Partition, r.Offset)}
	value, valueSchema := r.Value, r.ValueSchema
	if value == nil {
		if !c.deleteEnabled {
			return nil, nil
		}
		ch.kind = opDelete
	} else if op, after, afterSchema, ok := envelope(valueSchema, value); ok {
		switch op {
		case "c", "r", "u":
			if after == nil {
				return nil, fmt.Errorf("the Debezium event op=%s has no \"after\"", op)
			}
			value, valueSchema = after, afterSchema
		case "d":
			if !c.deleteEnabled {
				return nil, nil
			}
			ch.kind = opDelete
		case "t", "m": // truncate and message events change no row
			return nil, nil
		default:
			return nil, fmt.Errorf("the Debezium event has an unknown op %q", op)
		}
	}
	if ch.kind == opDelete {
		keys, err := c.keyColumns(r)
		if err != nil {
			return nil, err
		}
		ch.keys = keys
		ch.finish()
		return ch, nil
	}
	switch c.insertMode {
	case InsertModeUpsert:
		ch.kind = opUpsert
	case InsertModeUpdate:
		ch.kind = opUpdate
	default:
		ch.kind = opInsert
	}
	fields, ok := fieldsOf(valueSchema, value)
	if !ok {
		return nil, fmt.Errorf("value is a %T, not a struct or JSON object (set value.converter to match the topic's data)", value)
	}
	switch c.pkMode {
	case PKModeNone:
		ch.cols = fields
	case PKModeKafka:
		ch.keys = []sinkColumn{
			{name: "__connect_topic", schema: connect.StringSchema, value: r.Topic},
			{name: "__connect_partition", schema: connect.Int32Schema, value: r.Partition},
			{name: "__connect_offset", schema: connect.Int64Schema, value: r.Offset},
		}
		ch.cols = fields
	case PKModeRecordKey:
		keys, err := c.keyColumns(r)
		if err != nil {
			return nil, err
		}
		ch.keys = keys
		ch.cols = without(fields, keys)
	case PKModeRecordValue:
		if len(c.pkFields) == 0 {
			ch.keys = fields
		} else {
			for _, name := range c.pkFields {
				f := find(fields, name)
				if f == nil {
					return nil, fmt.Errorf("pk.fields names %q, which the record value lacks (pk.mode=record_value)", name)
				}
				ch.keys = append(ch.keys, *f)
			}
			ch.cols = without(fields, ch.keys)
		}
	}
	for _, k := range ch.keys {
		if k.value == nil {
			return nil, fmt.Errorf("primary key column %q is null", k.name)
		}
	}
	ch.finish()
	return ch, nil
}

func (ch *change) finish() {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\x00%s\x00%s", ch.kind, ch.table.schema, ch.table.name)
	for _, k := range ch.keys {
		b.WriteString("\x00k")
		b.WriteString(k.name)
	}
	for _, c := range ch.cols {
		b.WriteString("\x00c")
		b.WriteString(c.name)
	}
	ch.shape = b.String()
}

// keyColumns returns the primary key columns from the record key (pk.mode=record_key).
func (c *sinkConfig) keyColumns(r *connect.SinkRecord) ([]sinkColumn, error) {
	if r.Key == nil {
		return nil, fmt.Errorf("record key is null, but pk.mode=record_key needs it")
	}
	fields, ok := fieldsOf(r.KeySchema, r.Key)
	if !ok {
		// A primitive key is one column.
		name := "__connect_key"
		switch len(c.pkFields) {
		case 0:
		case 1:
			name = c.pkFields[0]
		default:
			return nil, fmt.Errorf("pk.fields names %d columns but the record key is a single %T", len(c.pkFields), r.Key)
		}
		return []sinkColumn{{name: name, schema: r.KeySchema, value: r.Key}}, nil
	}
	if len(c.pkFields) == 0 {
		if len(fields) == 0 {
			return nil, fmt.Errorf("record key has no fields")
		}
		return fields, nil
	}
	out := make([]sinkColumn, 0, len(c.pkFields))
	for _, name := range c.pkFields {
		f := find(fields, name)
		if f == nil {
			return nil, fmt.Errorf("pk.fields names %q, which the record key lacks (pk.mode=record_key)", name)
		}
		out = append(out, *f)
	}
	return out, nil
}

// tableFor applies table.name.format to a topic (see SinkClass for the dots rule).
func (c *sinkConfig) tableFor(topic string) tableName {
	name := strings.ReplaceAll(c.tableFormat, "${topic}", topic)
	parts := strings.Split(name, ".")
	switch len(parts) {
	case 1:
		return tableName{name: name}
	case 2:
		return tableName{schema: parts[0], name: parts[1]}
	default:
		return tableName{name: strings.ReplaceAll(name, ".", "_")}
	}
}

// fieldsOf returns the fields of a struct or a JSON object in order (struct order; sorted names for
// objects), or false for any other value.
func fieldsOf(schema *connect.Schema, v any) ([]sinkColumn, bool) {
	switch x := v.(type) {
	case *connect.Struct:
		out := make([]sinkColumn, len(x.Schema.Fields))
		for i, f := range x.Schema.Fields {
			out[i] = sinkColumn{name: f.Name, schema: f.Schema, value: x.Get(f.Name)}
		}
		return out, true
	case map[any]any:
		names := make([]string, 0, len(x))
		for k := range x {
			s, ok := k.(string)
			if !ok {
				return nil, false
			}
			names = append(names, s)
		}
		sort.Strings(names)
		var vs *connect.Schema
		if schema != nil && schema.Type == connect.TypeMap {
			vs = schema.ValueSchema
		}
		out := make([]sinkColumn, len(names))
		for i, n := range names {
			out[i] = sinkColumn{name: n, schema: vs, value: x[n]}
		}
		return out, true
	case map[string]any:
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		sort.Strings(names)
		out := make([]sinkColumn, len(names))
		for i, n := range names {
			out[i] = sinkColumn{name: n, value: x[n]}
		}
		return out, true
	}
	return nil, false
}

// envelope recognises a Debezium change event: a struct named *.Envelope or any struct or object
// with a string "op" and an "after" field. It returns the op and the "after" value.
func envelope(schema *connect.Schema, v any) (op string, after any, afterSchema *connect.Schema, ok bool) {
	fields, isRecord := fieldsOf(schema, v)
	if !isRecord {
		return "", nil, nil, false
	}
	opCol, afterCol := find(fields, "op"), find(fields, "after")
	if opCol == nil || afterCol == nil {
		return "", nil, nil, false
	}
	op, isString := opCol.value.(string)
	if !isString {
		return "", nil, nil, false
	}
	if st, isStruct := v.(*connect.Struct); !isStruct || !strings.HasSuffix(st.Schema.Name, ".Envelope") {
		// Without Debezium's schema name, insist on the envelope's shape: after is a record or null.
		if afterCol.value != nil {
			if _, rec := fieldsOf(afterCol.schema, afterCol.value); !rec {
				return "", nil, nil, false
			}
		}
	}
	return op, afterCol.value, afterCol.schema, true
}

func find(cols []sinkColumn, name string) *sinkColumn {
	for i := range cols {
		if cols[i].name == name {
			return &cols[i]
		}
	}
	return nil
}

func without(cols, drop []sinkColumn) []sinkColumn {
	out := make([]sinkColumn, 0, len(cols))
	for _, c := range cols {
		if find(drop, c.name) == nil {
			out = append(out, c)
		}
	}
	return out
}
