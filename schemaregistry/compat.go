package schemaregistry

import (
	"fmt"
	"strings"
)

// The compatibility levels, Confluent's names.
const (
	CompatNone               = "NONE"
	CompatBackward           = "BACKWARD"
	CompatBackwardTransitive = "BACKWARD_TRANSITIVE"
	CompatForward            = "FORWARD"
	CompatForwardTransitive  = "FORWARD_TRANSITIVE"
	CompatFull               = "FULL"
	CompatFullTransitive     = "FULL_TRANSITIVE"
)

func validCompatibility(level string) bool {
	switch level {
	case CompatNone, CompatBackward, CompatBackwardTransitive, CompatForward, CompatForwardTransitive,
		CompatFull, CompatFullTransitive:
		return true
	}
	return false
}

// previousSchema is an earlier live version a new schema is checked against.
type previousSchema struct {
	version int
	schema  string
	parsed  parsedSchema
}

// checkCompatibility returns, in Confluent's verbose style, why candidate may not follow previous
// (ascending by version) under level; nil when it may. Non-transitive levels check the latest only.
func checkCompatibility(level string, f schemaFormat, candidate parsedSchema, previous []previousSchema) []string {
	if level == CompatNone || len(previous) == 0 {
		return nil
	}
	if !strings.HasSuffix(level, "_TRANSITIVE") {
		previous = previous[len(previous)-1:]
	}
	backward := strings.HasPrefix(level, "BACKWARD") || strings.HasPrefix(level, "FULL")
	forward := strings.HasPrefix(level, "FORWARD") || strings.HasPrefix(level, "FULL")
	var messages []string
	// NB: newest first, as Confluent reports the latest version's problems first.
	for i := len(previous) - 1; i >= 0; i-- {
		old := previous[i]
		var issues []compatIssue
		if backward {
			issues = append(issues, f.canRead(candidate, old.parsed, "new", "old")...)
		}
		if forward {
			issues = append(issues, f.canRead(old.parsed, candidate, "old", "new")...)
		}
		if len(issues) == 0 {
			continue
		}
		for _, is := range issues {
			messages = append(messages, is.String())
		}
		messages = append(messages,
			fmt.Sprintf("{oldSchemaVersion: %d}", old.version),
			fmt.Sprintf("{oldSchema: '%s'}", old.schema),
			fmt.Sprintf("{compatibility: '%s'}", level))
	}
	return messages
}
