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

	// written caches, per topic and Connect schema, the Avro schema and registry id records are
	// written with; bySubject caches it per subject and schema text, for connectors that build a
	// new but equal schema per record.
	written   map[writtenKey]*writerSchema
	bySubject map[string]*writerSchema
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
	c.written, c.bySubject = map[writtenKey]*writerSchema{}, map[string]*writerSchema{}
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
	key := writtenKey{topic, schema}
	if w, ok := c.written[key]; ok {
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
	if w, ok := c.bySubject[subject+"\x00"+text]; ok {
		c.remember(key, subject+"\x00"+text, w)
		return w, nil
	}
	ss, err := c.cfg.writerSchema(subject, sr.Schema{Schema: text, Type: sr.TypeAvro})
	if err != nil {
		return nil, err
	}
	parsed, err := avro.ParseWithCache(ss.Schema.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("%w: schema %d of subject %s: %v", connect.ErrDataInvalid, ss.ID, subject, err)
	}
	w := &writerSchema{id: ss.ID, schema: parsed}
	c.remember(key, subject+"\x00"+text, w)
	return w, nil
}

func (c *AvroConverter) remember(key writtenKey, subjectText string, w *writerSchema) {
	if len(c.written) >= maxCachedSchemas || len(c.bySubject) >= maxCachedSchemas {
		clear(c.written)
		clear(c.bySubject)
	}
	c.written[key], c.bySubject[subjectText] = w, w
}

// writtenKey is what a writer schema is cached by: the subject depends on the topic.
type writtenKey struct {
	topic  string
	schema *connect.Schema
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
	s, err := c.cfg.compiledByID(id, sr.TypeAvro)
	if err != nil {
		return nil, err
	}
	parsed := s.Avro
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
