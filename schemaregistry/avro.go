package schemaregistry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gregor-streams/gregor/schemaregistry/compiled"
	"github.com/hamba/avro/v2"
)

// avroFormat parses Avro with hamba/avro and checks Avro's schema resolution rules.
type avroFormat struct{}

type avroSchema struct {
	text   string
	schema avro.Schema
}

func (a *avroSchema) canonical() string { return a.text }

func (avroFormat) parse(schema string, refs []resolvedRef) (parsedSchema, error) {
	s, err := compiled.ParseAvro(schema, compiledRefs(refs))
	if err != nil {
		return nil, err
	}
	// NB: the stored text is the submitted JSON without insignificant whitespace (docs, defaults and
	// custom properties kept), so the same schema sent twice with other spacing gets the same id.
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(schema)); err != nil {
		return nil, err
	}
	return &avroSchema{text: buf.String(), schema: s}, nil
}

func (avroFormat) canRead(reader, writer parsedSchema, readerName, writerName string) []compatIssue {
	c := avroChecker{readerName: readerName, writerName: writerName, seen: map[[2]string]bool{}}
	c.check(reader.(*avroSchema).schema, writer.(*avroSchema).schema, "")
	return c.issues
}

// avroChecker walks a reader and a writer schema together following the Avro specification's
// schema resolution rules, collecting every rule that breaks.
type avroChecker struct {
	readerName, writerName string
	seen                   map[[2]string]bool // named pairs under check, for recursive types
	issues                 []compatIssue
}

func (c *avroChecker) add(errorType, path, info, description string) {
	c.issues = append(c.issues, compatIssue{errorType: errorType, description: description + " at path '" + orRoot(path) + "'", additionalInfo: info})
}

func orRoot(path string) string {
	if path == "" {
		return "/"
	}
	return path
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

// promotable is Avro's promotions: a writer type (key) a reader of each listed type can read.
var promotable = map[avro.Type][]avro.Type{
	avro.Int:    {avro.Long, avro.Float, avro.Double},
	avro.Long:   {avro.Float, avro.Double},
	avro.Float:  {avro.Double},
	avro.String: {avro.Bytes},
	avro.Bytes:  {avro.String},
}

func (c *avroChecker) check(reader, writer avro.Schema, path string) {
	reader, writer = deref(reader), deref(writer)
	if wu, ok := writer.(*avro.UnionSchema); ok {
		// Every branch the writer may write must be readable.
		for i, branch := range wu.Types() {
			sub := &avroChecker{readerName: c.readerName, writerName: c.writerName, seen: c.seen}
			sub.check(reader, branch, fmt.Sprintf("%s/%d", path, i))
			if len(sub.issues) > 0 {
				if _, readerIsUnion := reader.(*avro.UnionSchema); readerIsUnion {
					c.add("MISSING_UNION_BRANCH", fmt.Sprintf("%s/%d", path, i), typeName(branch),
						fmt.Sprintf("The %s schema is missing a type inside a union field", c.readerName))
				} else {
					c.issues = append(c.issues, sub.issues...)
				}
			}
		}
		return
	}
	if ru, ok := reader.(*avro.UnionSchema); ok {
		for _, branch := range ru.Types() {
			sub := &avroChecker{readerName: c.readerName, writerName: c.writerName, seen: c.seen}
			sub.check(branch, writer, path)
			if len(sub.issues) == 0 {
				return
			}
		}
		c.add("MISSING_UNION_BRANCH", path, typeName(writer),
			fmt.Sprintf("The %s schema is missing a type inside a union field: reader union lacks %s", c.readerName, typeName(writer)))
		return
	}
	if reader.Type() != writer.Type() {
		if slices.Contains(promotable[writer.Type()], reader.Type()) {
			return
		}
		c.add("TYPE_MISMATCH", path, typeName(reader),
			fmt.Sprintf("The type (path '%s') of a field in the %s schema does not match with the %s schema: %s cannot read %s",
				orRoot(path), c.readerName, c.writerName, typeName(reader), typeName(writer)))
		return
	}
	switch r := reader.(type) {
	case *avro.RecordSchema:
		w := writer.(*avro.RecordSchema)
		if !c.namesMatch(r, w, path) {
			return
		}
		pair := [2]string{r.FullName(), w.FullName()}
		if c.seen[pair] {
			return
		}
		c.seen[pair] = true
		for i, rf := range r.Fields() {
			fieldPath := fmt.Sprintf("%s/fields/%d", path, i)
			wf := findField(w, rf)
			if wf == nil {
				if !rf.HasDefault() {
					c.issues = append(c.issues, compatIssue{errorType: "READER_FIELD_MISSING_DEFAULT_VALUE",
						description: fmt.Sprintf("The field '%s' at path '%s' in the %s schema has no default value and is missing in the %s schema",
							rf.Name(), fieldPath, c.readerName, c.writerName), additionalInfo: rf.Name()})
				}
				continue
			}
			c.check(rf.Type(), wf.Type(), fieldPath+"/type")
		}
	case *avro.EnumSchema:
		w := writer.(*avro.EnumSchema)
		if !c.namesMatch(r, w, path) {
			return
		}
		var missing []string
		for _, sym := range w.Symbols() {
			if !slices.Contains(r.Symbols(), sym) {
				missing = append(missing, sym)
			}
		}
		if len(missing) > 0 && !r.HasDefault() {
			c.add("MISSING_ENUM_SYMBOLS", path+"/symbols", fmt.Sprint(missing),
				fmt.Sprintf("The %s schema is missing enum symbols '%v'", c.readerName, missing))
		}
	case *avro.FixedSchema:
		w := writer.(*avro.FixedSchema)
		if !c.namesMatch(r, w, path) {
			return
		}
		if r.Size() != w.Size() {
			c.add("FIXED_SIZE_MISMATCH", path+"/size", fmt.Sprintf("expected: %d, found: %d", w.Size(), r.Size()),
				fmt.Sprintf("The size of FIXED type field in the %s schema does not match with the %s schema", c.readerName, c.writerName))
		}
	case *avro.ArraySchema:
		c.check(r.Items(), writer.(*avro.ArraySchema).Items(), path+"/items")
	case *avro.MapSchema:
		c.check(r.Values(), writer.(*avro.MapSchema).Values(), path+"/values")
	}
}

// namesMatch applies the rule that named types resolve by full name or by the reader's aliases.
func (c *avroChecker) namesMatch(reader, writer avro.NamedSchema, path string) bool {
	if reader.FullName() == writer.FullName() || reader.Name() == writer.Name() ||
		slices.Contains(reader.Aliases(), writer.FullName()) || slices.Contains(reader.Aliases(), writer.Name()) {
		return true
	}
	c.add("NAME_MISMATCH", path+"/name", fmt.Sprintf("expected: %s", writer.FullName()),
		fmt.Sprintf("The name of the schema has changed: %s schema has %s, %s schema has %s", c.readerName,
			reader.FullName(), c.writerName, writer.FullName()))
	return false
}

// findField finds the writer's field a reader's field reads: same name, or one of the reader
// field's aliases.
func findField(w *avro.RecordSchema, rf *avro.Field) *avro.Field {
	for _, wf := range w.Fields() {
		if wf.Name() == rf.Name() || slices.Contains(rf.Aliases(), wf.Name()) {
			return wf
		}
	}
	return nil
}

func typeName(s avro.Schema) string {
	s = deref(s)
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}
