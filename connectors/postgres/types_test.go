package postgres_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testpg"
)

const typesDDL = `CREATE TABLE alltypes (
	id int PRIMARY KEY,
	c_smallint smallint, c_int int NOT NULL, c_bigint bigint,
	c_numeric numeric(12,3), c_decimal decimal, c_real real, c_double double precision,
	c_text text, c_varchar varchar(20), c_char char(5), c_bool boolean,
	c_date date, c_time time, c_time3 time(3), c_ts timestamp, c_ts3 timestamp(3), c_tstz timestamptz,
	c_uuid uuid, c_json json, c_jsonb jsonb, c_bytea bytea,
	a_int int[], a_text text[], a_numeric numeric(6,2)[], a_bool boolean[], a_ts timestamptz[], a_uuid uuid[]
)`

const typesRow = `(%d, -32768, 2147483647, -9223372036854775808,
	-12345.678, 3.14159265358979, 1.5, -2.25e-300,
	'héllo "world"', 'vc', 'ab', true,
	'2024-02-29', '13:45:30.123456', '01:02:03.456', '2024-02-29 13:45:30.123456', '1999-12-31 23:59:59.999', '2024-02-29 13:45:30.5+02',
	'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '{"b": {"c": null}}', '\x00ff10',
	'{1,NULL,-3}', '{"a,b","c\"d",NULL}', '{1.50,-2.25}', '{t,f}', '{"2024-01-01 00:00:00+00"}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}')`

// The payload each type must have, as the JSON converter writes it (values compared as JSON).
const wantAfter = `{
	"c_smallint": -32768, "c_int": 2147483647, "c_bigint": -9223372036854775808,
	"c_numeric": "/0Oesg==", "c_decimal": {"scale": 14, "value": "AR2552okgw=="}, "c_real": 1.5, "c_double": -2.25E-300,
	"c_text": "héllo \"world\"", "c_varchar": "vc", "c_char": "ab   ", "c_bool": true,
	"c_date": 19782, "c_time": 49530123456, "c_time3": 3723456, "c_ts": 1709214330123456, "c_ts3": 946684799999,
	"c_tstz": "2024-02-29T11:45:30.5Z",
	"c_uuid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "c_json": "{\"a\": [1, 2]}", "c_jsonb": "{\"b\": {\"c\": null}}", "c_bytea": "AP8Q",
	"a_int": [1, null, -3], "a_text": ["a,b", "c\"d", null], "a_numeric": ["AJY=", "/x8="], "a_bool": [true, false],
	"a_ts": ["2024-01-01T00:00:00Z"], "a_uuid": ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]
}`

// The schema of each column: type, logical name, optionality.
var wantFieldSchemas = map[string]string{
	"c_smallint": `{"type":"int16","optional":true}`,
	"c_int":      `{"type":"int32","optional":false}`,
	"c_bigint":   `{"type":"int64","optional":true}`,
	"c_numeric":  `{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"3","connect.decimal.precision":"12"}}`,
	"c_decimal":  `{"type":"struct","optional":true,"name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal","fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}]}`,
	"c_real":     `{"type":"float","optional":true}`,
	"c_double":   `{"type":"double","optional":true}`,
	"c_text":     `{"type":"string","optional":true}`,
	"c_varchar":  `{"type":"string","optional":true}`,
	"c_char":     `{"type":"string","optional":true}`,
	"c_bool":     `{"type":"boolean","optional":true}`,
	"c_date":     `{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1}`,
	"c_time":     `{"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1}`,
	"c_time3":    `{"type":"int32","optional":true,"name":"io.debezium.time.Time","version":1}`,
	"c_ts":       `{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1}`,
	"c_ts3":      `{"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1}`,
	"c_tstz":     `{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1}`,
	"c_uuid":     `{"type":"string","optional":true,"name":"io.debezium.data.Uuid","version":1}`,
	"c_json":     `{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1}`,
	"c_jsonb":    `{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1}`,
	"c_bytea":    `{"type":"bytes","optional":true}`,
	"a_int":      `{"type":"array","optional":true,"items":{"type":"int32","optional":true}}`,
	"a_text":     `{"type":"array","optional":true,"items":{"type":"string","optional":true}}`,
	"a_numeric":  `{"type":"array","optional":true,"items":{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"6"}}}`,
	"a_bool":     `{"type":"array","optional":true,"items":{"type":"boolean","optional":true}}`,
	"a_ts":       `{"type":"array","optional":true,"items":{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1}}`,
	"a_uuid":     `{"type":"array","optional":true,"items":{"type":"string","optional":true,"name":"io.debezium.data.Uuid","version":1}}`,
}

func jsonEqual(t *testing.T, what string, got any, want string) {
	t.Helper()
	// NB: numbers stay json.Number so 64-bit integers compare exactly.
	canon := func(data []byte) []byte {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%s: %v in %s", what, err, data)
		}
		out, _ := json.Marshal(v)
		return out
	}
	raw, _ := json.Marshal(got)
	gb, wb := canon(raw), canon([]byte(want))
	if !bytes.Equal(gb, wb) {
		t.Errorf("%s:\n got  %s\n want %s", what, gb, wb)
	}
}

func TestEveryMappedTypeRoundTripsThroughTheJSONConverter(t *testing.T) {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db, typesDDL, "INSERT INTO alltypes VALUES "+sprintf(typesRow, 1))
	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	createConnector(t, w.Addr, "types", cdcConfig(pg, db, "ty"))
	c := newConsumer(t, tb, "ty.public.alltypes")
	c.waitFor(30*time.Second, "the snapshot event", func(ev []event) bool { return len(ev) >= 1 })
	pg.Exec(t, db, "INSERT INTO alltypes VALUES "+sprintf(typesRow, 2))
	c.waitFor(30*time.Second, "the insert event", func(ev []event) bool { return len(ev) >= 2 })

	for i, op := range []string{"r", "c"} {
		e := c.events[i]
		if e.op() != op {
			t.Fatalf("event %d op %q, want %q", i, e.op(), op)
		}
		after, _ := e.Value["after"].(map[string]any)
		delete(after, "id")
		jsonEqual(t, op+" after", after, wantAfter)

		// The schema part, as the converter wrote it.
		var env struct {
			Schema struct {
				Name   string           `json:"name"`
				Fields []map[string]any `json:"fields"`
			} `json:"schema"`
		}
		if err := json.Unmarshal(e.ValueRaw, &env); err != nil {
			t.Fatal(err)
		}
		if env.Schema.Name != "ty.public.alltypes.Envelope" {
			t.Errorf("envelope schema name %q", env.Schema.Name)
		}
		names := map[string]map[string]any{}
		for _, f := range env.Schema.Fields {
			names[f["field"].(string)] = f
		}
		for _, f := range []string{"before", "after", "source", "op", "ts_ms"} {
			if names[f] == nil {
				t.Errorf("envelope schema lacks %s", f)
			}
		}
		if n := names["source"]["name"]; n != "io.debezium.connector.postgresql.Source" {
			t.Errorf("source schema name %v", n)
		}
		if n := names["after"]["name"]; n != "ty.public.alltypes.Value" {
			t.Errorf("after schema name %v", n)
		}
		fields, _ := names["after"]["fields"].([]any)
		for _, f := range fields {
			fm := f.(map[string]any)
			name := fm["field"].(string)
			delete(fm, "field")
			if want, ok := wantFieldSchemas[name]; ok {
				jsonEqual(t, "schema of "+name, fm, want)
			}
		}
		var key struct {
			Schema  map[string]any `json:"schema"`
			Payload map[string]any `json:"payload"`
		}
		if err := json.Unmarshal(e.KeyRaw, &key); err != nil {
			t.Fatal(err)
		}
		jsonEqual(t, "key", key, sprintf(`{"schema":{"type":"struct","optional":false,"name":"ty.public.alltypes.Key","fields":[{"type":"int32","optional":false,"field":"id"}]},"payload":{"id":%d}}`, i+1))
	}
	src := c.events[1].Value["source"].(map[string]any)
	for _, k := range []string{"version", "connector", "name", "ts_ms", "snapshot", "db", "schema", "table", "txId", "lsn"} {
		if src[k] == nil {
			t.Errorf("source lacks %s: %v", k, src)
		}
	}
	if src["connector"] != "postgresql" || src["name"] != "ty" || src["db"] != db || src["table"] != "alltypes" || src["snapshot"] != "false" {
		t.Errorf("source block %v", src)
	}
}
