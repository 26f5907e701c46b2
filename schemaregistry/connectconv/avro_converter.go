package connectconv

import (
	"fmt"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// AvroConverterClass is Confluent's class name for the Avro converter.
const AvroConverterClass = "io.confluent.connect.avro.AvroConverter"

// registryTimeout bounds one registry call.
const registryTimeout = 30 * time.Second

// maxCachedSchemas bounds each converter cache; past it the cache starts over, which only costs
// registry round trips (Confluent's schemas.cache.size plays the same part).
const maxCachedSchemas = 1000

// AvroConverter is Confluent's io.confluent.connect.avro.AvroConverter: Connect data as Avro in the
// Confluent wire format, schemas registered in (or looked up from) a schema registry. Like every
// Converter it is used by one task at a time, so its caches take no lock.
type AvroConverter struct {
	cfg   serdeConfig
	isKey bool

	// written caches, per Connect schema, the Avro schema and registry id records are written with.
	written map[*connect.Schema]*writerSchema
	// read caches, per registry id, the parsed Avro schema and its Connect schema.
	read map[int]*readerSchema
}

type writerSchema struct {
	id     int
	schema avro.Schema
}

type readerSchema struct {
	schema  avro.Schema
	connect *connect.Schema
}

// Configure implements connect.Converter.
func (c *AvroConverter) Configure(config map[string]string, isKey bool) error {
	cfg, err := parseSerdeConfig(config, isKey)
	if err != nil {
		return err
	}
	c.cfg, c.isKey = cfg, isKey
	c.written = map[*connect.Schema]*writerSchema{}
	c.read = map[int]*readerSchema{}
	return nil
}

func (c *AvroConverter) configured() error {
	if c.cfg.client == nil {
		return fmt.Errorf("%w: AvroConverter is not configured (%s is required)", connect.ErrInvalidConfig, ConfigSchemaRegistryURL)
	}
	return nil
}

// FromConnect implements connect.Converter: a null value is a Kafka null; anything else is the
// magic byte, the schema id and the Avro binary encoding.
func (c *AvroConverter) FromConnect(topic string, schema *connect.Schema, value any) ([]byte, error) {
	if err := c.configured(); err != nil {
		return nil, err
	}
	if value == nil {
		return nil, nil
	}
	w, err := c.writerFor(topic, schema)
	if err != nil {
		return nil, err
	}
	generic, err := toAvro(w.schema, schema, value)
	if err != nil {
		return nil, fmt.Errorf("converting Kafka Connect data to Avro for topic %s: %w", topic, err)
	}
	out := serde.AppendHeader(make([]byte, 0, 64), uint32(w.id))
	enc, err := avroAPI.Marshal(w.schema, generic)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding Avro for topic %s: %v", connect.ErrDataInvalid, topic, err)
	}
	return append(out, enc...), nil
}

// writerFor finds the schema and id a Connect schema is written with: registered (auto.register),
// looked up, or the subject's latest version (use.latest.version).
func (c *AvroConverter) writerFor(topic string, schema *connect.Schema) (*writerSchema, error) {
	if w, ok := c.written[schema]; ok {
		return w, nil
	}
	text, err := AvroSchema(schema)
	if err != nil {
		return nil, err
	}
	recordName := ""
	if schema.Type == connect.TypeStruct {
		recordName = schema.Name
		if recordName == "" {
			recordName = defaultNamespace + "." + defaultRecordName
		}
		recordName = avroFullName(recordName)
	}
	subject, err := c.cfg.strategy(topic, c.isKey, recordName)
	if err != nil {
		return nil, err
	}
	ss, err := c.cfg.writerSchema(subject, sr.Schema{Schema: text, Type: sr.TypeAvro})
	if err != nil {
		return nil, err
	}
	parsed, err := avro.ParseWithCache(ss.Schema.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("%w: schema %d of subject %s: %v", connect.ErrDataInvalid, ss.ID, subject, err)
	}
	if len(c.written) >= maxCachedSchemas {
		clear(c.written)
	}
	w := &writerSchema{id: ss.ID, schema: parsed}
	c.written[schema] = w
	return w, nil
}

// ToConnect implements connect.Converter: the writer's schema comes from the registry by the
// record's id, and becomes the Connect schema.
func (c *AvroConverter) ToConnect(topic string, data []byte) (*connect.Schema, any, error) {
	if err := c.configured(); err != nil {
		return nil, nil, err
	}
	if data == nil {
		return nil, nil, nil
	}
	id, payload, err := serde.Decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: topic %s: %v", connect.ErrDataInvalid, topic, err)
	}
	r, err := c.readerFor(int(id))
	if err != nil {
		return nil, nil, err
	}
	var generic any
	if err := avroAPI.Unmarshal(r.schema, payload, &generic); err != nil {
		return nil, nil, fmt.Errorf("%w: decoding Avro of schema %d for topic %s: %v", connect.ErrDataInvalid, id, topic, err)
	}
	value, err := fromAvro(r.schema, r.connect, generic)
	if err != nil {
		return nil, nil, fmt.Errorf("converting Avro of schema %d to Kafka Connect data for topic %s: %w", id, topic, err)
	}
	return r.connect, value, nil
}

func (c *AvroConverter) readerFor(id int) (*readerSchema, error) {
	if r, ok := c.read[id]; ok {
		return r, nil
	}
	s, err := c.cfg.schemaByID(id, sr.TypeAvro)
	if err != nil {
		return nil, err
	}
	parsed, err := avro.ParseWithCache(s.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("%w: schema %d: %v", connect.ErrDataInvalid, id, err)
	}
	cs, err := ConnectSchema(parsed)
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	if len(c.read) >= maxCachedSchemas {
		clear(c.read)
	}
	r := &readerSchema{schema: parsed, connect: cs}
	c.read[id] = r
	return r, nil
}

func init() {
	connect.RegisterConverter(connect.ConverterPlugin{
		Class:     AvroConverterClass,
		Aliases:   []string{"AvroConverter"},
		New:       func() connect.Converter { return &AvroConverter{} },
		ConfigDef: serdeConfigDef,
	})
}
