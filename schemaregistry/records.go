package schemaregistry

import (
	"encoding/json"
	"fmt"
)

// The `_schemas` record format, as Confluent's registry writes it, so a Gregor registry and a
// Confluent one can read each other's topic. Keys and values are JSON.
const (
	keySchema        = "SCHEMA"
	keyConfig        = "CONFIG"
	keyMode          = "MODE"
	keyNoop          = "NOOP"
	keyDeleteSubject = "DELETE_SUBJECT"
	keyClearSubject  = "CLEAR_SUBJECT"
)

// recordKey is the key of every `_schemas` record. Subject is a pointer because the global CONFIG and
// MODE keys carry `"subject":null`.
type recordKey struct {
	KeyType string  `json:"keytype"`
	Subject *string `json:"subject,omitempty"`
	Version int     `json:"version,omitempty"`
	Magic   int     `json:"magic"`
}

// schemaValue is a SCHEMA record's value: one version of one subject.
type schemaValue struct {
	Subject    string          `json:"subject"`
	Version    int             `json:"version"`
	ID         int             `json:"id"`
	SchemaType string          `json:"schemaType,omitempty"`
	References []Reference     `json:"references,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	RuleSet    json.RawMessage `json:"ruleSet,omitempty"`
	Schema     string          `json:"schema"`
	Deleted    bool            `json:"deleted"`
}

// configValue is a CONFIG record's value. Fields other than the level are kept as sent.
type configValue struct {
	CompatibilityLevel string `json:"compatibilityLevel,omitempty"`
}

// modeValue is a MODE record's value.
type modeValue struct {
	Mode string `json:"mode"`
}

// deleteSubjectValue is a DELETE_SUBJECT (soft delete of a whole subject) or CLEAR_SUBJECT
// (permanent delete) record's value.
type deleteSubjectValue struct {
	Subject string `json:"subject"`
	Version int    `json:"version,omitempty"`
}

// noopValue is the value Gregor gives a NOOP record when a permanent delete removes the schema
// with the highest id: the id stays taken after compaction drops that schema's record, so ids are
// never reused. Confluent ignores NOOP records.
type noopValue struct {
	MaxID int `json:"maxId"`
}

// Reference names another registered schema that a schema imports.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

func schemaKey(subject string, version int) []byte {
	return mustJSON(recordKey{KeyType: keySchema, Subject: &subject, Version: version, Magic: 1})
}

func subjectKey(keyType string, subject string) []byte {
	k := recordKey{KeyType: keyType, Magic: 0}
	if subject != "" {
		k.Subject = &subject
	}
	if keyType == keyConfig || keyType == keyMode {
		// NB: Confluent writes `"subject":null` for the global config and mode; omitempty would drop it.
		return []byte(fmt.Sprintf(`{"keytype":%q,"subject":%s,"magic":0}`, keyType, nullableJSON(k.Subject)))
	}
	return mustJSON(k)
}

func nullableJSON(s *string) string {
	if s == nil {
		return "null"
	}
	return string(mustJSON(*s))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own plain structs are marshalled here; they cannot fail.
		panic(fmt.Sprintf("schemaregistry: marshal %T: %v", v, err))
	}
	return b
}
