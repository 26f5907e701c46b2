package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/gregor-streams/gregor/schemaregistry/compiled"
	"github.com/gregor-streams/gregor/schemaregistry/recordjson"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// recordSchemas says how the console producer encodes keys and values through a schema registry,
// with the Confluent console producers' settings: a schema id to write with, or a schema's text to
// register (or look up) under the topic's subject, as kafka-avro-console-producer's value.schema.
type recordSchemas struct {
	registryURL string
	// keyID and valueID are the schema ids keys and values are encoded with (0: sent as typed).
	keyID, valueID int
	// keySchema and valueSchema are schema texts registered under <topic>-key and <topic>-value
	// (TopicNameStrategy) to find keyID and valueID.
	keySchema, valueSchema string
	// schemaType is the type of keySchema and valueSchema: AVRO, PROTOBUF or JSON.
	schemaType string
	// lookupOnly looks keySchema and valueSchema up instead of registering them
	// (auto.register.schemas=false).
	lookupOnly bool
}

// addSchemaFlags registers the producer's registry flags.
func addSchemaFlags(fs *flagSet) *recordSchemas {
	s := &recordSchemas{}
	fs.StringVar(&s.registryURL, "schema-registry-url", "", "Schema Registry `URLs` (comma-separated) for the schema flags; default "+defaultRegistryURL)
	fs.IntVar(&s.valueID, "value-schema-id", 0, "encode each value (JSON) with this registry schema `id`")
	fs.IntVar(&s.keyID, "key-schema-id", 0, "encode each key (JSON) with this registry schema `id`")
	fs.Func("value-schema", "encode each value (JSON) with this schema `text`, registered under <topic>-value", func(v string) error { s.valueSchema = v; return nil })
	fs.Func("key-schema", "encode each key (JSON) with this schema `text`, registered under <topic>-key", func(v string) error { s.keySchema = v; return nil })
	fs.Func("value-schema-file", "like --value-schema, the schema read from `file`", func(v string) error { return readSchemaFile(v, &s.valueSchema) })
	fs.Func("key-schema-file", "like --key-schema, the schema read from `file`", func(v string) error { return readSchemaFile(v, &s.keySchema) })
	fs.StringVar(&s.schemaType, "schema-type", "AVRO", "type of --value-schema and --key-schema: AVRO, PROTOBUF or JSON")
	return s
}

func readSchemaFile(path string, dst *string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	*dst = string(b)
	return nil
}

// schemaProperties are the console-producer properties applySchemaProperty takes.
const schemaProperties = "schema.registry.url, key.schema.id, value.schema.id, key.schema, value.schema, key.schema.file, value.schema.file, auto.register.schemas"

// applySchemaProperty applies one Confluent console-producer property to s and reports whether
// key was one of them.
func (s *recordSchemas) applySchemaProperty(key, value string) (bool, error) {
	switch key {
	case "schema.registry.url":
		s.registryURL = value
	case "key.schema.id", "value.schema.id":
		id, err := strconv.Atoi(value)
		if err != nil || id <= 0 {
			return true, usageErrorf("--property %s must be a positive schema id, not %q", key, value)
		}
		if key == "key.schema.id" {
			s.keyID = id
		} else {
			s.valueID = id
		}
	case "key.schema":
		s.keySchema = value
	case "value.schema":
		s.valueSchema = value
	case "key.schema.file", "value.schema.file":
		dst := &s.valueSchema
		if key == "key.schema.file" {
			dst = &s.keySchema
		}
		if err := readSchemaFile(value, dst); err != nil {
			return true, usageErrorf("--property %s: %v", key, err)
		}
	case "auto.register.schemas":
		s.lookupOnly = value == "false"
	default:
		return false, nil
	}
	return true, nil
}

// codec checks the settings, registers (or looks up) the schema texts under topic's subjects,
// fetches the schemas to write with and returns the codec, or nil when no schema is set. An
// unknown id or a refused schema fails here, before any record.
func (s *recordSchemas) codec(ctx context.Context, topic string, parseKey bool) (*recordjson.Codec, error) {
	if s.keyID < 0 || s.valueID < 0 {
		return nil, usageErrorf("--key-schema-id and --value-schema-id must be positive schema ids")
	}
	if (s.keyID > 0 && s.keySchema != "") || (s.valueID > 0 && s.valueSchema != "") {
		return nil, usageErrorf("give a key or value schema id or its schema, not both")
	}
	keyed, valued := s.keyID > 0 || s.keySchema != "", s.valueID > 0 || s.valueSchema != ""
	if !keyed && !valued {
		if s.registryURL != "" {
			return nil, usageErrorf("--schema-registry-url needs a schema to encode with: --value-schema-id, --value-schema or their key forms")
		}
		return nil, nil
	}
	if keyed && !parseKey {
		return nil, usageErrorf("a key schema needs keys: give --key-separator (or --property parse.key=true)")
	}
	var typ sr.SchemaType
	if err := typ.UnmarshalText([]byte(strings.ToUpper(s.schemaType))); err != nil {
		return nil, usageErrorf("--schema-type %q: want AVRO, PROTOBUF or JSON", s.schemaType)
	}
	url := s.registryURL
	if url == "" {
		url = defaultRegistryURL
	}
	cl, err := newRegistryClient(url)
	if err != nil {
		return nil, err
	}
	for _, side := range []struct {
		text, subject string
		id            *int
	}{{s.keySchema, topic + "-key", &s.keyID}, {s.valueSchema, topic + "-value", &s.valueID}} {
		if side.text == "" {
			continue
		}
		schema := sr.Schema{Schema: side.text, Type: typ}
		var ss sr.SubjectSchema
		if s.lookupOnly {
			ss, err = cl.LookupSchema(ctx, side.subject, schema)
		} else {
			ss, err = cl.CreateSchema(ctx, side.subject, schema)
		}
		if err != nil {
			return nil, fmt.Errorf("subject %s: %w", side.subject, compiled.RegistryError(err))
		}
		*side.id = ss.ID
	}
	codec := recordjson.New(cl)
	for _, id := range []int{s.keyID, s.valueID} {
		if id > 0 {
			if err := codec.Load(ctx, id); err != nil {
				return nil, err
			}
		}
	}
	return codec, nil
}

// encode replaces r's key and value, JSON text, with their Confluent-framed encoding under s's
// schema ids. A null key or value (the null marker) stays null.
func (s *recordSchemas) encode(ctx context.Context, codec *recordjson.Codec, r *kgo.Record) error {
	if s.keyID > 0 && r.Key != nil {
		enc, err := codec.Encode(ctx, s.keyID, r.Key)
		if err != nil {
			return fmt.Errorf("key: %w", err)
		}
		r.Key = enc
	}
	if s.valueID > 0 && r.Value != nil {
		enc, err := codec.Encode(ctx, s.valueID, r.Value)
		if err != nil {
			return fmt.Errorf("value: %w", err)
		}
		r.Value = enc
	}
	return nil
}
