package connectconv

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/schemaregistry/compiled"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Confluent's serializer config names.
const (
	ConfigSchemaRegistryURL      = "schema.registry.url"
	ConfigAutoRegisterSchemas    = "auto.register.schemas"
	ConfigUseLatestVersion       = "use.latest.version"
	ConfigKeySubjectNameStrategy = "key.subject.name.strategy"
	ConfigValueSubjectStrategy   = "value.subject.name.strategy"
	ConfigBasicAuthSource        = "basic.auth.credentials.source"
	ConfigBasicAuthUserInfo      = "basic.auth.user.info"
)

// Confluent's subject name strategies.
const (
	TopicNameStrategy       = "io.confluent.kafka.serializers.subject.TopicNameStrategy"
	RecordNameStrategy      = "io.confluent.kafka.serializers.subject.RecordNameStrategy"
	TopicRecordNameStrategy = "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy"
)

// SubjectNameStrategy names the subject a record's schema is registered under.
type SubjectNameStrategy func(topic string, isKey bool, recordName string) (string, error)

// ParseSubjectNameStrategy returns the strategy of a Confluent class name (or its simple name).
func ParseSubjectNameStrategy(class string) (SubjectNameStrategy, error) {
	simple := class[strings.LastIndexByte(class, '.')+1:]
	switch simple {
	case "", "TopicNameStrategy":
		return func(topic string, isKey bool, _ string) (string, error) {
			if isKey {
				return topic + "-key", nil
			}
			return topic + "-value", nil
		}, nil
	case "RecordNameStrategy":
		return func(_ string, _ bool, record string) (string, error) {
			if record == "" {
				return "", fmt.Errorf("%w: RecordNameStrategy needs a named record schema", connect.ErrDataInvalid)
			}
			return record, nil
		}, nil
	case "TopicRecordNameStrategy":
		return func(topic string, _ bool, record string) (string, error) {
			if record == "" {
				return "", fmt.Errorf("%w: TopicRecordNameStrategy needs a named record schema", connect.ErrDataInvalid)
			}
			return topic + "-" + record, nil
		}, nil
	}
	return nil, fmt.Errorf("unknown subject name strategy %q; known: %s, %s, %s", class, TopicNameStrategy, RecordNameStrategy, TopicRecordNameStrategy)
}

// serdeConfig is what every registry-aware converter reads from its properties.
type serdeConfig struct {
	client       *sr.Client
	autoRegister bool
	useLatest    bool
	strategy     SubjectNameStrategy
}

func parseBool(config map[string]string, key string, def bool) (bool, error) {
	v, ok := config[key]
	if !ok || strings.TrimSpace(v) == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, fmt.Errorf("%w: %s: %q is not a boolean", connect.ErrInvalidConfig, key, v)
	}
	return b, nil
}

func parseSerdeConfig(config map[string]string, isKey bool) (serdeConfig, error) {
	var c serdeConfig
	raw := strings.TrimSpace(config[ConfigSchemaRegistryURL])
	if raw == "" {
		return c, fmt.Errorf("%w: Missing required configuration %q which has no default value", connect.ErrInvalidConfig, ConfigSchemaRegistryURL)
	}
	var urls []string
	for _, u := range strings.Split(raw, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	opts := []sr.ClientOpt{sr.URLs(urls...)}
	if strings.EqualFold(config[ConfigBasicAuthSource], "USER_INFO") {
		user, pass, _ := strings.Cut(config[ConfigBasicAuthUserInfo], ":")
		opts = append(opts, sr.BasicAuth(user, pass))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return c, fmt.Errorf("%w: %s: %v", connect.ErrInvalidConfig, ConfigSchemaRegistryURL, err)
	}
	c.client = cl
	if c.autoRegister, err = parseBool(config, ConfigAutoRegisterSchemas, true); err != nil {
		return c, err
	}
	if c.useLatest, err = parseBool(config, ConfigUseLatestVersion, false); err != nil {
		return c, err
	}
	key := ConfigValueSubjectStrategy
	if isKey {
		key = ConfigKeySubjectNameStrategy
	}
	if c.strategy, err = ParseSubjectNameStrategy(strings.TrimSpace(config[key])); err != nil {
		return c, fmt.Errorf("%w: %s: %v", connect.ErrInvalidConfig, key, err)
	}
	return c, nil
}

func serdeConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: ConfigSchemaRegistryURL, Type: connect.TypeConfigList, Default: connect.NoDefault, Importance: connect.High,
			Documentation: "Comma-separated URLs of schema registry instances."}).
		Define(connect.ConfigKey{Name: ConfigAutoRegisterSchemas, Type: connect.TypeConfigBoolean, Default: "true", Importance: connect.Medium,
			Documentation: "Register a record's schema under its subject when it is not registered yet; when false, look it up and fail if absent."}).
		Define(connect.ConfigKey{Name: ConfigUseLatestVersion, Type: connect.TypeConfigBoolean, Default: "false", Importance: connect.Low,
			Documentation: "Write with the subject's latest schema instead of the record's own (only with auto.register.schemas=false)."}).
		Define(connect.ConfigKey{Name: ConfigKeySubjectNameStrategy, Type: connect.TypeConfigString, Default: TopicNameStrategy, Importance: connect.Medium,
			Documentation: "How a key schema's subject is named: TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy."}).
		Define(connect.ConfigKey{Name: ConfigValueSubjectStrategy, Type: connect.TypeConfigString, Default: TopicNameStrategy, Importance: connect.Medium,
			Documentation: "How a value schema's subject is named: TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy."}).
		Define(connect.ConfigKey{Name: ConfigBasicAuthSource, Type: connect.TypeConfigString, Default: "", Importance: connect.Medium,
			Documentation: "USER_INFO to send basic.auth.user.info as HTTP basic credentials."}).
		Define(connect.ConfigKey{Name: ConfigBasicAuthUserInfo, Type: connect.TypeConfigPassword, Default: "", Importance: connect.Medium,
			Documentation: "user:password for the registry, with basic.auth.credentials.source=USER_INFO."})
}

// writerSchema returns the schema and id records of subject are written with: schema registered
// (auto.register.schemas), the subject's latest (use.latest.version), or schema looked up.
func (c serdeConfig) writerSchema(subject string, schema sr.Schema) (sr.SubjectSchema, error) {
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	var ss sr.SubjectSchema
	var err error
	switch {
	case c.autoRegister:
		ss, err = c.client.CreateSchema(ctx, subject, schema)
		ss.Schema = schema
	case c.useLatest:
		ss, err = c.client.SchemaByVersion(ctx, subject, -1)
	default:
		ss, err = c.client.LookupSchema(ctx, subject, schema)
		ss.Schema = schema
	}
	if err != nil {
		return ss, fmt.Errorf("schema registry: subject %s: %w", subject, err)
	}
	return ss, nil
}

// compileProtobuf compiles a Protobuf schema the registry gave, fetching its references.
func (c serdeConfig) compileProtobuf(s sr.Schema) (protoreflect.FileDescriptor, error) {
	if s.Type != sr.TypeProtobuf {
		return nil, fmt.Errorf("the schema is %s, not PROTOBUF", s.Type)
	}
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	cs, err := compiled.Compile(ctx, c.client, s)
	if err != nil {
		return nil, err
	}
	return cs.Protobuf, nil
}

// compiledByID fetches a schema by id, checks its type and compiles it with its references.
func (c serdeConfig) compiledByID(id int, want sr.SchemaType) (*compiled.Schema, error) {
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	s, err := c.client.SchemaByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("schema registry: schema %d: %w", id, err)
	}
	if s.Type != want {
		return nil, fmt.Errorf("%w: schema %d is %s, not %s", connect.ErrDataInvalid, id, s.Type, want)
	}
	cs, err := compiled.Compile(ctx, c.client, s)
	if err != nil {
		return nil, fmt.Errorf("%w: schema %d: %v", connect.ErrDataInvalid, id, err)
	}
	return cs, nil
}

// schemaByID fetches a schema by id and checks its type; a schema with references is refused
// (the JSON Schema converter does not resolve them).
func (c serdeConfig) schemaByID(id int, want sr.SchemaType) (sr.Schema, error) {
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	s, err := c.client.SchemaByID(ctx, id)
	if err != nil {
		return s, fmt.Errorf("schema registry: schema %d: %w", id, err)
	}
	if s.Type != want {
		return s, fmt.Errorf("%w: schema %d is %s, not %s", connect.ErrDataInvalid, id, s.Type, want)
	}
	if len(s.References) > 0 {
		return s, fmt.Errorf("%w: schema %d has references, which the converters do not resolve yet", connect.ErrDataInvalid, id)
	}
	return s, nil
}
