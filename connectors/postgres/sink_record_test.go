package postgres

import (
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/connect"
)

func TestToChangeMapsRecordsToRowChangesPerMode(t *testing.T) {
	keySchema := connect.NewStructSchema("k").Field("id", connect.Int64Schema).Build()
	key := connect.NewStruct(keySchema)
	_ = key.Put("id", int64(7))
	row := map[any]any{"id": int64(7), "name": "ann"}
	env := func(op string, after any) map[any]any {
		return map[any]any{"op": op, "before": nil, "after": after, "source": map[any]any{"table": "t"}}
	}
	for _, tc := range []struct {
		name   string
		cfg    sinkConfig
		rec    connect.SinkRecord
		want   string // kind table keys | cols, or "skip"
		errHas string
	}{
		{"insert without key", sinkConfig{insertMode: "insert", pkMode: "none"}, connect.SinkRecord{Topic: "t", Value: row}, `insert "t" | id name`, ""},
		{"upsert by struct key", sinkConfig{insertMode: "upsert", pkMode: "record_key"}, connect.SinkRecord{Topic: "t", KeySchema: keySchema, Key: key, Value: row}, `upsert "t" id | name`, ""},
		{"primitive key named by pk.fields", sinkConfig{insertMode: "upsert", pkMode: "record_key", pkFields: []string{"code"}}, connect.SinkRecord{Topic: "t", Key: "EUR", Value: map[any]any{"rate": 1.0}}, `upsert "t" code | rate`, ""},
		{"record_value pk.fields", sinkConfig{insertMode: "update", pkMode: "record_value", pkFields: []string{"name"}}, connect.SinkRecord{Topic: "t", Value: row}, `update "t" name | id`, ""},
		{"kafka coordinates", sinkConfig{insertMode: "insert", pkMode: "kafka"}, connect.SinkRecord{Topic: "t", Value: row}, `insert "t" __connect_topic __connect_partition __connect_offset | id name`, ""},
		{"tombstone deletes", sinkConfig{pkMode: "record_key", deleteEnabled: true}, connect.SinkRecord{Topic: "t", KeySchema: keySchema, Key: key}, `delete "t" id |`, ""},
		{"tombstone skipped without delete.enabled", sinkConfig{pkMode: "record_key"}, connect.SinkRecord{Topic: "t", Key: key}, "skip", ""},
		{"debezium update applies after", sinkConfig{insertMode: "upsert", pkMode: "record_key"}, connect.SinkRecord{Topic: "a.b.c", Key: map[any]any{"id": int64(7)}, Value: env("u", row)}, `upsert "a_b_c" id | name`, ""},
		{"debezium delete", sinkConfig{insertMode: "upsert", pkMode: "record_key", deleteEnabled: true}, connect.SinkRecord{Topic: "t", Key: map[any]any{"id": int64(7)}, Value: env("d", nil)}, `delete "t" id |`, ""},
		{"debezium truncate skipped", sinkConfig{insertMode: "upsert", pkMode: "record_key"}, connect.SinkRecord{Topic: "t", Key: map[any]any{"id": int64(7)}, Value: env("t", nil)}, "skip", ""},
		{"a row with op and after columns of its own is not an envelope", sinkConfig{insertMode: "insert", pkMode: "none"}, connect.SinkRecord{Topic: "t", Value: map[any]any{"op": "c", "after": "x"}}, `insert "t" | after op`, ""},
		{"schema-qualified table", sinkConfig{insertMode: "insert", pkMode: "none", tableFormat: "app.${topic}_v1"}, connect.SinkRecord{Topic: "t", Value: row}, `insert "app"."t_v1" | id name`, ""},
		{"null key with record_key", sinkConfig{insertMode: "upsert", pkMode: "record_key"}, connect.SinkRecord{Topic: "t", Value: row}, "", "record key is null"},
		{"pk field missing from value", sinkConfig{insertMode: "upsert", pkMode: "record_value", pkFields: []string{"nope"}}, connect.SinkRecord{Topic: "t", Value: row}, "", `"nope"`},
		{"null pk value", sinkConfig{insertMode: "upsert", pkMode: "record_value", pkFields: []string{"id"}}, connect.SinkRecord{Topic: "t", Value: map[any]any{"id": nil}}, "", `"id" is null`},
		{"not a record", sinkConfig{insertMode: "insert", pkMode: "none"}, connect.SinkRecord{Topic: "t", Value: "plain"}, "", "not a struct or JSON object"},
	} {
		if tc.cfg.tableFormat == "" {
			tc.cfg.tableFormat = "${topic}"
		}
		ch, err := tc.cfg.toChange(&tc.rec)
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("%s: err = %v, want one containing %s", tc.name, err, tc.errHas)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got := "skip"
		if ch != nil {
			got = ch.kind.String() + " " + ch.table.quoted()
			for _, k := range ch.keys {
				got += " " + k.name
			}
			got += " |"
			for _, c := range ch.cols {
				got += " " + c.name
			}
		}
		if got != tc.want {
			t.Errorf("%s: change = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestEncodeTextRendersLogicalTypesAsPostgresInput(t *testing.T) {
	decimal := &connect.Schema{Type: connect.TypeBytes, Name: connect.DecimalSchemaName, Parameters: map[string]string{"scale": "2"}}
	for _, tc := range []struct {
		col     sinkColumn
		colType string
		want    string
	}{
		{sinkColumn{schema: &connect.Schema{Type: connect.TypeInt64, Name: connect.TimestampSchemaName}, value: int64(1714979289123)}, "timestamp", "2024-05-06 07:08:09.123Z"},
		{sinkColumn{schema: &connect.Schema{Type: connect.TypeInt64, Name: nameMicroTimestamp}, value: int64(1714979289123456)}, "timestamp", "2024-05-06 07:08:09.123456Z"},
		{sinkColumn{schema: &connect.Schema{Type: connect.TypeInt32, Name: connect.DateSchemaName}, value: int32(-1)}, "date", "1969-12-31"},
		{sinkColumn{schema: &connect.Schema{Type: connect.TypeInt32, Name: connect.TimeSchemaName}, value: int32(3723004)}, "time", "01:02:03.004"},
		{sinkColumn{schema: decimal, value: []byte{0x30, 0x39}}, "numeric", "123.45"},
		{sinkColumn{schema: decimal, value: []byte{0xff, 0x85}}, "numeric", "-1.23"},
		{sinkColumn{schema: decimal, value: []byte{0x05}}, "numeric", "0.05"},
		{sinkColumn{value: []byte{0, 0xff}}, "bytea", `\x00ff`},
		{sinkColumn{value: 1.5}, "double precision", "1.5"},
		{sinkColumn{value: map[any]any{"a": []any{int64(1), "x"}}}, "jsonb", `{"a":[1,"x"]}`},
		{sinkColumn{value: true}, "boolean", "true"},
		{sinkColumn{value: []any{int64(1), nil, `a"b\c`, []any{"x"}}}, "pg_catalog._text", `{"1",NULL,"a\"b\\c",{"x"}}`},
		{sinkColumn{value: []any{int64(1)}}, "pg_catalog.jsonb", `[1]`},
	} {
		got, err := encodeText(&tc.col, tc.colType)
		if err != nil || got == nil || *got != tc.want {
			t.Errorf("encodeText(%v as %s) = %v, %v; want %s", tc.col.value, tc.colType, got, err, tc.want)
		}
	}
	// Debezium's VariableScaleDecimal (unconstrained numeric): each value carries its scale.
	vsd := &connect.Schema{Type: connect.TypeStruct, Name: nameVariableDecimal, Fields: []connect.Field{
		{Name: "scale", Index: 0, Schema: &connect.Schema{Type: connect.TypeInt32}},
		{Name: "value", Index: 1, Schema: &connect.Schema{Type: connect.TypeBytes}},
	}}
	for _, tc := range []struct {
		scale int32
		value []byte
		want  string
	}{{3, []byte{0x01, 0xe2, 0xe1}, "123.617"}, {0, []byte{0xff, 0x85}, "-123"}, {5, []byte{0x07}, "0.00007"}} {
		st := connect.NewStruct(vsd)
		if err := st.Put("scale", tc.scale); err != nil {
			t.Fatal(err)
		}
		if err := st.Put("value", tc.value); err != nil {
			t.Fatal(err)
		}
		col := sinkColumn{schema: vsd, value: st}
		if got, err := encodeText(&col, "pg_catalog.numeric"); err != nil || got == nil || *got != tc.want {
			t.Errorf("VariableScaleDecimal(scale %d, %x) = %v, %v; want %s", tc.scale, tc.value, got, err, tc.want)
		}
		if typ := sqlType(&col); typ != "numeric" {
			t.Errorf("auto.create type of a VariableScaleDecimal is %s, want numeric", typ)
		}
	}
	if got, err := encodeText(&sinkColumn{}, "text"); got != nil || err != nil {
		t.Errorf("nil encodes as %v, %v; want NULL", got, err)
	}
}

func TestBuildSQLWritesAGroupWithOneStatement(t *testing.T) {
	ch := &change{table: tableName{name: "t"}, kind: opUpsert, keys: []sinkColumn{{name: "id"}}, cols: []sinkColumn{{name: "Name"}}}
	names, types := []string{"id", "Name"}, []string{"bigint", "text"}
	for kind, want := range map[opKind]string{
		opInsert: `INSERT INTO "t" ("id", "Name") SELECT v.c1::bigint, v.c2::text FROM unnest($1::text[], $2::text[]) AS v(c1, c2)`,
		opUpsert: `INSERT INTO "t" ("id", "Name") SELECT v.c1::bigint, v.c2::text FROM unnest($1::text[], $2::text[]) AS v(c1, c2) ON CONFLICT ("id") DO UPDATE SET "Name" = EXCLUDED."Name"`,
		opUpdate: `UPDATE "t" AS t SET "Name" = v.c2::text FROM unnest($1::text[], $2::text[]) AS v(c1, c2) WHERE t."id" = v.c1::bigint`,
	} {
		ch.kind = kind
		if got := buildSQL(ch, names, types); got != want {
			t.Errorf("%s:\n got %s\nwant %s", kind, got, want)
		}
	}
	del := &change{table: tableName{schema: "s", name: `we"ird`}, kind: opDelete, keys: []sinkColumn{{name: "a"}, {name: "b"}}}
	want := `DELETE FROM "s"."we""ird" AS t USING unnest($1::text[], $2::text[]) AS v(c1, c2) WHERE t."a" = v.c1::integer AND t."b" = v.c2::text`
	if got := buildSQL(del, []string{"a", "b"}, []string{"integer", "text"}); got != want {
		t.Errorf("delete:\n got %s\nwant %s", got, want)
	}
}
