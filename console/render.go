package console

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// renderedField is a record key or value as the browser shows it: pretty JSON, text, or hex for
// binary; a Debezium change event also gets its before/after images and operation.
type renderedField struct {
	Format string          `json:"format"` // "null", "json", "text", "hex" or "debezium"
	Text   string          `json:"text"`   // what to show: pretty JSON, the text, or hex
	Size   int             `json:"size"`   // bytes
	Op     string          `json:"op,omitempty"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
	Source json.RawMessage `json:"source,omitempty"`
}

// maxShown bounds the text of one field (a huge value is cut, its size still shown).
const maxShown = 64 << 10

// render turns raw bytes into what the browser shows. nil is "null" (a tombstone value).
func render(b []byte) renderedField {
	if b == nil {
		return renderedField{Format: "null"}
	}
	f := renderedField{Size: len(b)}
	if !utf8.Valid(b) || !printable(b) {
		shown := b
		if len(shown) > maxShown/2 {
			shown = shown[:maxShown/2]
		}
		f.Format, f.Text = "hex", hex.EncodeToString(shown)
		return f
	}
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') && json.Valid(trimmed) {
		var pretty bytes.Buffer
		if json.Indent(&pretty, trimmed, "", "  ") == nil {
			f.Format, f.Text = "json", cut(pretty.String())
			if bytes.Contains(trimmed, []byte(`"op"`)) { // NB: skip a second parse for most values
				debezium(&f, trimmed)
			}
			return f
		}
	}
	f.Format, f.Text = "text", cut(string(b))
	return f
}

// debezium fills in a Debezium change event's parts: the envelope {"before","after","op",...},
// bare or inside {"schema","payload"} (the JSON converter with schemas).
func debezium(f *renderedField, b []byte) {
	var env map[string]json.RawMessage
	if json.Unmarshal(b, &env) != nil {
		return
	}
	if p, ok := env["payload"]; ok {
		var inner map[string]json.RawMessage
		if json.Unmarshal(p, &inner) != nil {
			return
		}
		env = inner
	}
	var op string
	if json.Unmarshal(env["op"], &op) != nil || op == "" {
		return
	}
	before, hasBefore := env["before"]
	after, hasAfter := env["after"]
	if !hasBefore && !hasAfter {
		return
	}
	f.Format, f.Op, f.Before, f.After, f.Source = "debezium", op, before, after, env["source"]
}

// printable reports whether UTF-8 text has no control characters other than whitespace.
func printable(b []byte) bool {
	for _, r := range string(b) {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

func cut(s string) string {
	if len(s) <= maxShown {
		return s
	}
	return strings.ToValidUTF8(s[:maxShown], "") + "…"
}
