package postgres

import (
	"testing"

	"github.com/gregor-streams/gregor/connect"
)

// FuzzConnString checks that no connection setting makes ConnString or Redact panic.
func FuzzConnString(f *testing.F) {
	for _, s := range []string{"jdbc:postgresql://h:5432/db?user=u&password=p", "postgres://u:p@h/d", "host=h password=p", "jdbc:postgresql://[::1", "%", ""} {
		f.Add(s, "u", "p")
	}
	f.Fuzz(func(t *testing.T, url, user, password string) {
		cs, err := ConnString(map[string]string{"connection.url": url, "connection.user": user, "connection.password": password})
		if err != nil {
			return
		}
		_ = Redact(cs)
	})
}

// FuzzRecordToRow checks that no record the JSON converter can produce (with or without schemas)
// makes the sink's mapping panic: toChange, then the text encoding of every column.
func FuzzRecordToRow(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"name":"a"}`,
		`{"before":null,"after":{"id":1},"op":"c"}`,
		`{"schema":{"type":"struct","name":"x.Envelope","fields":[{"field":"op","type":"string"},{"field":"after","type":"struct","optional":true,"fields":[{"field":"id","type":"int64"}]}]},"payload":{"op":"u","after":{"id":2}}}`,
		`{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},"payload":"AQ=="}`,
		`{"schema":{"type":"struct","fields":[{"field":"d","type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"99999999999"}}]},"payload":{"d":"AQ=="}}`,
	} {
		f.Add(s, `{"id":1}`)
	}
	f.Fuzz(func(t *testing.T, value, key string) {
		for _, schemas := range []bool{true, false} {
			conv := &connect.JSONConverter{SchemasEnable: schemas}
			vs, v, err := conv.ToConnect("t", []byte(value))
			if err != nil {
				continue
			}
			ks, k, err := conv.ToConnect("t", []byte(key))
			if err != nil {
				continue
			}
			for _, cfg := range []sinkConfig{
				{tableFormat: "${topic}", insertMode: InsertModeUpsert, pkMode: PKModeRecordKey, deleteEnabled: true},
				{tableFormat: "${topic}", insertMode: InsertModeInsert, pkMode: PKModeRecordValue, pkFields: []string{"id"}},
				{tableFormat: "${topic}", insertMode: InsertModeInsert, pkMode: PKModeNone},
			} {
				ch, err := cfg.toChange(&connect.SinkRecord{Topic: "t", KeySchema: ks, Key: k, ValueSchema: vs, Value: v})
				if err != nil || ch == nil {
					continue
				}
				for _, cols := range [][]sinkColumn{ch.keys, ch.cols} {
					for i := range cols {
						_, _ = encodeText(&cols[i], sqlType(&cols[i]))
					}
				}
				_ = createTableSQL(ch)
			}
		}
	})
}
