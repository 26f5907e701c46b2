package schemaregistry

import (
	"io"
	"log/slog"
	"testing"
)

// FuzzStateApply feeds arbitrary `_schemas` records to the state: a record it cannot read is an
// error, never a panic, and the state stays queryable.
func FuzzStateApply(f *testing.F) {
	f.Add([]byte(`{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`), []byte(`{"subject":"s","version":1,"id":1,"schema":"\"string\"","deleted":false}`))
	f.Add([]byte(`{"keytype":"CONFIG","subject":null,"magic":0}`), []byte(`{"compatibilityLevel":"FULL"}`))
	f.Add([]byte(`{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}`), []byte(`{"subject":"s","version":1}`))
	f.Add([]byte(`{"keytype":"NOOP","magic":0}`), []byte(`{"maxId":9}`))
	f.Add([]byte(`{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`), []byte(nil))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		st := newState()
		_ = st.apply(0, key, value)
		_ = st.apply(1, key, nil)
		for _, name := range st.subjectNames(true, "") {
			st.versionsOf(name, true)
		}
		st.nextID()
	})
}

// FuzzRegisterBody feeds arbitrary request bodies and schemas to the parser every write goes
// through: a bad one is an API error, never a panic.
func FuzzRegisterBody(f *testing.F) {
	f.Add([]byte(schemaBody("", userV2)))
	f.Add([]byte(schemaBody("JSON", `{"type":"object","properties":{"a":{"$ref":"#/definitions/x"}}}`)))
	f.Add([]byte(schemaBody("PROTOBUF", "syntax = \"proto3\";\nimport \"google/protobuf/timestamp.proto\";\nmessage M { google.protobuf.Timestamp t = 1; }")))
	f.Add([]byte(`{"schema":"\"string\"","references":[{"name":"x","subject":"nope","version":-1}]}`))
	s := &Server{state: newState()}
	s.cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := s.prepare(body)
		if err != nil {
			if _, ok := err.(*apiError); !ok {
				t.Fatalf("prepare returned %T %v, not an API error", err, err)
			}
			return
		}
		// A schema that parsed is compatible with itself under every level.
		for _, level := range allModes {
			if msgs := checkCompatibility(level, c.format, c.parsed, []previousSchema{{1, c.parsed.canonical(), c.parsed}}); len(msgs) > 0 {
				t.Fatalf("%s incompatible with itself under %s: %v", body, level, msgs)
			}
		}
	})
}

// TestIDWatermarkSurvivesCompaction: after compaction drops a permanently deleted schema's
// record, the NOOP record still keeps its id taken.
func TestIDWatermarkSurvivesCompaction(t *testing.T) {
	st := newState()
	noop := subjectKey(keyNoop, "")
	if err := st.apply(0, noop, mustJSON(noopValue{MaxID: 7})); err != nil {
		t.Fatal(err)
	}
	if got := st.nextID(); got != 8 {
		t.Fatalf("next id after a watermark of 7: %d", got)
	}
}
