package schemaregistry

import (
	"fmt"
	"strings"
	"testing"
)

// compatCase is one schema change: whether the new schema passes BACKWARD (new reads old data) and
// FORWARD (old reads new data) against the old one, and the rule named when one fails.
type compatCase struct {
	name              string
	old, new          string
	backward, forward bool
	rule              string
}

func avroRecord(fields string) string {
	return `{"type":"record","name":"R","namespace":"t","fields":[` + fields + `]}`
}

var avroCases = []compatCase{
	{"add field with default", avroRecord(`{"name":"a","type":"int"}`), avroRecord(`{"name":"a","type":"int"},{"name":"b","type":"string","default":""}`), true, true, ""},
	{"add field without default", avroRecord(`{"name":"a","type":"int"}`), avroRecord(`{"name":"a","type":"int"},{"name":"b","type":"string"}`), false, true, "READER_FIELD_MISSING_DEFAULT_VALUE"},
	{"remove field with default", avroRecord(`{"name":"a","type":"int"},{"name":"b","type":"string","default":""}`), avroRecord(`{"name":"a","type":"int"}`), true, true, ""},
	{"remove field without default", avroRecord(`{"name":"a","type":"int"},{"name":"b","type":"string"}`), avroRecord(`{"name":"a","type":"int"}`), true, false, "READER_FIELD_MISSING_DEFAULT_VALUE"},
	{"promote int to long", avroRecord(`{"name":"a","type":"int"}`), avroRecord(`{"name":"a","type":"long"}`), true, false, "TYPE_MISMATCH"},
	{"promote long to double", avroRecord(`{"name":"a","type":"long"}`), avroRecord(`{"name":"a","type":"double"}`), true, false, "TYPE_MISMATCH"},
	{"promote float to double", `"float"`, `"double"`, true, false, "TYPE_MISMATCH"},
	{"string to bytes", `"string"`, `"bytes"`, true, true, ""},
	{"string to int", avroRecord(`{"name":"a","type":"string"}`), avroRecord(`{"name":"a","type":"int"}`), false, false, "TYPE_MISMATCH"},
	{"enum symbol added", `{"type":"enum","name":"E","symbols":["A","B"]}`, `{"type":"enum","name":"E","symbols":["A","B","C"]}`, true, false, "MISSING_ENUM_SYMBOLS"},
	{"enum symbol added, old has default", `{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}`, `{"type":"enum","name":"E","symbols":["A","B","C"],"default":"A"}`, true, true, ""},
	{"field renamed with alias", avroRecord(`{"name":"a","type":"int"}`), avroRecord(`{"name":"b","type":"int","aliases":["a"]}`), true, false, "READER_FIELD_MISSING_DEFAULT_VALUE"},
	{"record renamed", `{"type":"record","name":"R","fields":[]}`, `{"type":"record","name":"S","fields":[]}`, false, false, "NAME_MISMATCH"},
	{"record renamed with alias", `{"type":"record","name":"R","fields":[]}`, `{"type":"record","name":"S","aliases":["R"],"fields":[]}`, true, false, "NAME_MISMATCH"},
	{"union widened", `["null","string"]`, `["null","string","int"]`, true, false, "MISSING_UNION_BRANCH"},
	{"type made nullable", `"string"`, `["null","string"]`, true, false, "TYPE_MISMATCH"},
	{"fixed size changed", `{"type":"fixed","name":"F","size":4}`, `{"type":"fixed","name":"F","size":8}`, false, false, "FIXED_SIZE_MISMATCH"},
	{"array items promoted", `{"type":"array","items":"int"}`, `{"type":"array","items":"long"}`, true, false, "TYPE_MISMATCH"},
	{"map values changed", `{"type":"map","values":"string"}`, `{"type":"map","values":"boolean"}`, false, false, "TYPE_MISMATCH"},
	{"recursive record field added with default",
		`{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}`,
		`{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]},{"name":"v","type":"int","default":0}]}`, true, true, ""},
}

var jsonCases = []compatCase{
	{"property added to closed model", `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}`,
		`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":false}`, true, false, "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"},
	{"property added to open model", `{"type":"object","properties":{"a":{"type":"string"}}}`,
		`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`, false, true, "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"},
	{"required property added", `{"type":"object","properties":{"a":{"type":"string"}}}`,
		`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, false, true, "REQUIRED_ATTRIBUTE_ADDED"},
	{"integer widened to number", `{"type":"integer"}`, `{"type":"number"}`, true, false, "TYPE_CHANGED"},
	{"string to integer", `{"type":"string"}`, `{"type":"integer"}`, false, false, "TYPE_CHANGED"},
	{"enum extended", `{"enum":["a","b"]}`, `{"enum":["a","b","c"]}`, true, false, "ENUM_ARRAY_NARROWED"},
	{"maxLength decreased", `{"type":"string","maxLength":10}`, `{"type":"string","maxLength":5}`, false, true, "MAX_LENGTH_DECREASED"},
	{"minimum increased", `{"type":"number","minimum":0}`, `{"type":"number","minimum":1}`, false, true, "MINIMUM_INCREASED"},
	{"items type changed", `{"type":"array","items":{"type":"string"}}`, `{"type":"array","items":{"type":"boolean"}}`, false, false, "TYPE_CHANGED"},
	{"description changed", `{"type":"string","description":"x"}`, `{"type":"string","description":"y"}`, true, true, ""},
	{"model closed", `{"type":"object"}`, `{"type":"object","additionalProperties":false}`, false, true, "ADDITIONAL_PROPERTIES_REMOVED"},
}

func proto3(body string) string { return "syntax = \"proto3\";\npackage p;\n" + body }

var protobufCases = []compatCase{
	{"field added", proto3(`message M { int32 a = 1; }`), proto3(`message M { int32 a = 1; string b = 2; }`), true, true, ""},
	{"field removed", proto3(`message M { int32 a = 1; string b = 2; }`), proto3(`message M { int32 a = 1; }`), true, true, ""},
	{"field renamed", proto3(`message M { int32 a = 1; }`), proto3(`message M { int32 renamed = 1; }`), true, true, ""},
	{"int32 to int64", proto3(`message M { int32 a = 1; }`), proto3(`message M { int64 a = 1; }`), true, true, ""},
	{"int32 to string", proto3(`message M { int32 a = 1; }`), proto3(`message M { string a = 1; }`), false, false, "FIELD_SCALAR_KIND_CHANGED"},
	{"scalar to message", proto3(`message N {} message M { int32 a = 1; }`), proto3(`message N {} message M { N a = 1; }`), false, false, "FIELD_KIND_CHANGED"},
	{"message type changed", proto3(`message N {} message O {} message M { N a = 1; }`), proto3(`message N {} message O {} message M { O a = 1; }`), false, false, "FIELD_NAMED_TYPE_CHANGED"},
	{"message removed", proto3(`message M {} message N {}`), proto3(`message M {}`), false, true, "MESSAGE_REMOVED"},
	{"package changed", proto3(`message M {}`), "syntax = \"proto3\";\npackage q;\nmessage M {}", false, false, "PACKAGE_CHANGED"},
	{"fields moved into a new oneof", proto3(`message M { int32 a = 1; int32 b = 2; }`), proto3(`message M { oneof o { int32 a = 1; int32 b = 2; } }`), false, true, "MULTIPLE_FIELDS_MOVED_TO_ONEOF"},
	{"required field added", "syntax = \"proto2\";\npackage p;\nmessage M { optional int32 a = 1; }", "syntax = \"proto2\";\npackage p;\nmessage M { optional int32 a = 1; required int32 b = 2; }", false, false, "REQUIRED_FIELD_"},
}

var allModes = []string{CompatNone, CompatBackward, CompatBackwardTransitive, CompatForward, CompatForwardTransitive, CompatFull, CompatFullTransitive}

func parseOrFail(t *testing.T, f schemaFormat, schema string) parsedSchema {
	t.Helper()
	p, err := f.parse(schema, nil)
	if err != nil {
		t.Fatalf("parse %s: %v", schema, err)
	}
	return p
}

// TestCompatibilityTable checks every format's changes under every mode.
func TestCompatibilityTable(t *testing.T) {
	for _, table := range []struct {
		schemaType string
		cases      []compatCase
	}{{TypeAvro, avroCases}, {TypeJSON, jsonCases}, {TypeProtobuf, protobufCases}} {
		f, _, _ := formatOf(table.schemaType)
		for _, c := range table.cases {
			old, candidate := parseOrFail(t, f, c.old), parseOrFail(t, f, c.new)
			for _, mode := range allModes {
				t.Run(fmt.Sprintf("%s/%s/%s", table.schemaType, c.name, mode), func(t *testing.T) {
					want := true
					switch {
					case strings.HasPrefix(mode, "BACKWARD"):
						want = c.backward
					case strings.HasPrefix(mode, "FORWARD"):
						want = c.forward
					case strings.HasPrefix(mode, "FULL"):
						want = c.backward && c.forward
					}
					msgs := checkCompatibility(mode, f, candidate, []previousSchema{{version: 1, schema: c.old, parsed: old}})
					if got := len(msgs) == 0; got != want {
						t.Fatalf("compatible = %v, want %v: %v", got, want, msgs)
					}
					if !want && !strings.Contains(strings.Join(msgs, " "), c.rule) {
						t.Fatalf("messages do not name %s: %v", c.rule, msgs)
					}
				})
			}
		}
	}
}

// TestTransitiveModesCheckEveryVersion: a change compatible with the latest version but not with an
// earlier one passes the plain mode and fails the transitive one.
func TestTransitiveModesCheckEveryVersion(t *testing.T) {
	for _, c := range []struct {
		schemaType string
		modes      [2]string
		v1, v2, v3 string
	}{
		{TypeAvro, [2]string{CompatBackward, CompatBackwardTransitive},
			avroRecord(`{"name":"id","type":"int"}`), avroRecord(`{"name":"id","type":"int"},{"name":"x","type":"int","default":0}`), avroRecord(`{"name":"id","type":"int"},{"name":"x","type":"int"}`)},
		{TypeAvro, [2]string{CompatForward, CompatForwardTransitive},
			avroRecord(`{"name":"id","type":"int"},{"name":"x","type":"int"}`), avroRecord(`{"name":"id","type":"int"},{"name":"x","type":"int","default":0}`), avroRecord(`{"name":"id","type":"int"}`)},
		{TypeAvro, [2]string{CompatFull, CompatFullTransitive},
			avroRecord(`{"name":"id","type":"int"}`), avroRecord(`{"name":"id","type":"int"},{"name":"x","type":"int","default":0}`), avroRecord(`{"name":"id","type":"int"},{"name":"x","type":"int"}`)},
		{TypeJSON, [2]string{CompatBackward, CompatBackwardTransitive},
			`{"type":"string"}`, `{"type":"string","maxLength":5}`, `{"type":"string","maxLength":5}`},
		{TypeProtobuf, [2]string{CompatBackward, CompatBackwardTransitive},
			proto3(`message M {} message N {}`), proto3(`message M {}`), proto3(`message M {}`)},
	} {
		f, _, _ := formatOf(c.schemaType)
		history := []previousSchema{{1, c.v1, parseOrFail(t, f, c.v1)}, {2, c.v2, parseOrFail(t, f, c.v2)}}
		candidate := parseOrFail(t, f, c.v3)
		plain := checkCompatibility(c.modes[0], f, candidate, history)
		transitive := checkCompatibility(c.modes[1], f, candidate, history)
		if len(transitive) == 0 {
			t.Errorf("%s %s: v3 passes against v1: %v", c.schemaType, c.modes[1], transitive)
		}
		if len(transitive) <= len(plain) {
			t.Errorf("%s: %s found no more than %s (%v vs %v)", c.schemaType, c.modes[1], c.modes[0], transitive, plain)
		}
		if !strings.Contains(strings.Join(transitive, " "), "oldSchemaVersion: 1") {
			t.Errorf("%s %s: messages do not name version 1: %v", c.schemaType, c.modes[1], transitive)
		}
	}
}
