package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/jackc/pgx/v5"
)

// PostgresSink writes Kafka records into Postgres tables, as Confluent's and Debezium's JDBC sink
// connectors do (whose class names it answers to).
//
// Each Put is one transaction: its records become changes (insert, upsert, update or delete of a
// row), consecutive changes of one table and shape are written together by one statement over
// unnest'ed text arrays (batch.size rows at most), and the transaction commits before Put returns.
// The worker commits consumer offsets only after Put returned (see Flush), so a failed batch leaves
// both the table and the offsets where they were; a restarted task consumes it again. Delivery is
// at-least-once: with insert.mode=insert a batch that committed in Postgres whose offsets were not
// yet committed to Kafka when the task died is inserted twice; upsert makes replays idempotent.
//
// Records are flat structs (a Connect schema) or schemaless JSON objects, or Debezium change-event
// envelopes (a value with "op" and "after"): c, r and u apply "after" per insert.mode, d deletes by
// the record key when delete.enabled, t is skipped. A tombstone (null value) deletes by key when
// delete.enabled and is skipped otherwise (Debezium's JDBC sink; Confluent's fails the task).
//
// Table names come from table.name.format with ${topic} replaced: "a" is table a on the search
// path, "s.a" is table a in schema s, and a name with more dots ("server.schema.table", Debezium's
// topics) has its dots replaced by underscores. Identifiers are always quoted, so case is kept.
//
// auto.create takes column types from the Connect schema (Kafka's and Debezium's logical types
// included) or, for schemaless JSON, from the first record's values: integers become bigint,
// other numbers double precision, objects and arrays jsonb, null text. Records of one table are
// expected to keep their shape; a value the column's type cannot take fails the batch with an
// error naming the table and column.
const (
	SinkClass = "PostgresSink"

	ConfigTableNameFormat = "table.name.format"
	ConfigInsertMode      = "insert.mode"
	ConfigPKMode          = "pk.mode"
	ConfigPKFields        = "pk.fields"
	ConfigAutoCreate      = "auto.create"
	ConfigAutoEvolve      = "auto.evolve"
	ConfigDeleteEnabled   = "delete.enabled"
	ConfigBatchSize       = "batch.size"

	// Debezium JDBC sink spellings, accepted when the Confluent key is not set.
	ConfigPrimaryKeyMode   = "primary.key.mode"
	ConfigPrimaryKeyFields = "primary.key.fields"
	ConfigSchemaEvolution  = "schema.evolution"
)

// Insert modes and primary key modes.
const (
	InsertModeInsert = "insert"
	InsertModeUpsert = "upsert"
	InsertModeUpdate = "update"

	PKModeNone        = "none"
	PKModeKafka       = "kafka"
	PKModeRecordKey   = "record_key"
	PKModeRecordValue = "record_value"
)

func init() {
	connect.Register(connect.Plugin{
		Class:   SinkClass,
		Aliases: []string{"io.confluent.connect.jdbc.JdbcSinkConnector", "io.debezium.connector.jdbc.JdbcSinkConnector"},
		Type:    connect.PluginSink, Version: connect.Version,
		New: func() connect.Connector { return &SinkConnector{} },
	})
}

func lowerOneOf(values ...string) connect.Validator {
	inner := connect.OneOf(values...)
	return connect.ValidatorFunc(func(name string, v any) error {
		s, _ := v.(string)
		if s == "" {
			return nil
		}
		return inner.Validate(name, strings.ToLower(s))
	})
}

func sinkConfigDef() *connect.ConfigDef {
	g := "Connection"
	d := connect.NewConfigDef().
		Define(connect.ConfigKey{Name: ConfigConnectionURL, Type: connect.TypeConfigString, Default: "", Importance: connect.High, Group: g, OrderInGroup: 1, Width: connect.WidthLong,
			Documentation: "JDBC URL (jdbc:postgresql://host:port/db), postgres:// URL or key=value DSN of the target database. Alternatively set database.hostname and database.dbname.",
			Validator:     URLValidator()}).
		Define(connect.ConfigKey{Name: ConfigConnectionUser, Type: connect.TypeConfigString, Default: "", Importance: connect.High, Group: g, OrderInGroup: 2, Documentation: "Database user (overrides the URL's)."}).
		Define(connect.ConfigKey{Name: ConfigConnectionUsername, Type: connect.TypeConfigString, Default: "", Importance: connect.Low, Group: g, OrderInGroup: 3, Documentation: "Debezium's name for connection.user."}).
		Define(connect.ConfigKey{Name: ConfigConnectionPassword, Type: connect.TypeConfigPassword, Default: "", Importance: connect.High, Group: g, OrderInGroup: 4, Documentation: "Database password (overrides the URL's)."}).
		Define(connect.ConfigKey{Name: ConfigDatabaseHostname, Type: connect.TypeConfigString, Default: "", Importance: connect.Low, Group: g, OrderInGroup: 5, Documentation: "Database host, when connection.url is not set."}).
		Define(connect.ConfigKey{Name: ConfigDatabasePort, Type: connect.TypeConfigInt, Default: "5432", Importance: connect.Low, Group: g, OrderInGroup: 6, Documentation: "Database port, when connection.url is not set.", Validator: connect.AtLeast(1)}).
		Define(connect.ConfigKey{Name: ConfigDatabaseUser, Type: connect.TypeConfigString, Default: "", Importance: connect.Low, Group: g, OrderInGroup: 7, Documentation: "Database user, when connection.url is not set."}).
		Define(connect.ConfigKey{Name: ConfigDatabasePassword, Type: connect.TypeConfigPassword, Default: "", Importance: connect.Low, Group: g, OrderInGroup: 8, Documentation: "Database password, when connection.url is not set."}).
		Define(connect.ConfigKey{Name: ConfigDatabaseDBName, Type: connect.TypeConfigString, Default: "", Importance: connect.Low, Group: g, OrderInGroup: 9, Documentation: "Database name, when connection.url is not set."})
	g = "Writes"
	d.Define(connect.ConfigKey{Name: ConfigInsertMode, Type: connect.TypeConfigString, Default: InsertModeInsert, Importance: connect.High, Group: g, OrderInGroup: 1,
		Documentation: "insert (plain INSERT), upsert (INSERT ... ON CONFLICT (pk) DO UPDATE) or update (UPDATE by pk).",
		Validator:     lowerOneOf(InsertModeInsert, InsertModeUpsert, InsertModeUpdate)}).
		Define(connect.ConfigKey{Name: ConfigBatchSize, Type: connect.TypeConfigInt, Default: "3000", Importance: connect.Medium, Group: g, OrderInGroup: 2,
			Documentation: "Rows written by one statement at most; all of a Put's statements share one transaction.", Validator: connect.AtLeast(1)}).
		Define(connect.ConfigKey{Name: ConfigDeleteEnabled, Type: connect.TypeConfigBoolean, Default: "false", Importance: connect.Medium, Group: g, OrderInGroup: 3,
			Documentation: "Delete the row of a tombstone's key (and of a Debezium op=d event). Requires pk.mode=record_key."}).
		Define(connect.ConfigKey{Name: ConfigTableNameFormat, Type: connect.TypeConfigString, Default: "${topic}", Importance: connect.Medium, Group: g, OrderInGroup: 4,
			Documentation: "Target table name; ${topic} is replaced by the record's topic. schema.table picks a schema.", Validator: connect.NonEmptyString()})
	g = "Primary key"
	d.Define(connect.ConfigKey{Name: ConfigPKMode, Type: connect.TypeConfigString, Default: "", Importance: connect.High, Group: g, OrderInGroup: 1,
		Documentation: "Where the primary key comes from: none, kafka (__connect_topic, __connect_partition, __connect_offset), record_key or record_value. Default none.",
		Validator:     lowerOneOf(PKModeNone, PKModeKafka, PKModeRecordKey, PKModeRecordValue)}).
		Define(connect.ConfigKey{Name: ConfigPKFields, Type: connect.TypeConfigList, Default: "", Importance: connect.Medium, Group: g, OrderInGroup: 2,
			Documentation: "Primary key column names. record_key: the key struct's fields (default all), or the one column name of a primitive key (default __connect_key); record_value: the value's fields (default all)."}).
		Define(connect.ConfigKey{Name: ConfigPrimaryKeyMode, Type: connect.TypeConfigString, Default: "", Importance: connect.Low, Group: g, OrderInGroup: 3,
			Documentation: "Debezium's name for pk.mode.", Validator: lowerOneOf(PKModeNone, PKModeKafka, PKModeRecordKey, PKModeRecordValue)}).
		Define(connect.ConfigKey{Name: ConfigPrimaryKeyFields, Type: connect.TypeConfigList, Default: "", Importance: connect.Low, Group: g, OrderInGroup: 4,
			Documentation: "Debezium's name for pk.fields."})
	g = "DDL"
	d.Define(connect.ConfigKey{Name: ConfigAutoCreate, Type: connect.TypeConfigBoolean, Default: "false", Importance: connect.Medium, Group: g, OrderInGroup: 1,
		Documentation: "CREATE TABLE a missing table from the record's schema (or its JSON value's types), with the primary key of pk.mode."}).
		Define(connect.ConfigKey{Name: ConfigAutoEvolve, Type: connect.TypeConfigBoolean, Default: "false", Importance: connect.Medium, Group: g, OrderInGroup: 2,
			Documentation: "ALTER TABLE ADD COLUMN (nullable) for a record field the table lacks."}).
		Define(connect.ConfigKey{Name: ConfigSchemaEvolution, Type: connect.TypeConfigString, Default: "", Importance: connect.Low, Group: g, OrderInGroup: 3,
			Documentation: "Debezium's switch: basic sets auto.create and auto.evolve, none leaves them.", Validator: lowerOneOf("none", "basic")})
	return d
}

// sinkConfig is a parsed, cross-checked sink config.
type sinkConfig struct {
	conn          map[string]string
	tableFormat   string
	insertMode    string
	pkMode        string
	pkFields      []string
	autoCreate    bool
	autoEvolve    bool
	deleteEnabled bool
	batchSize     int
}

func parseSinkConfig(cfg map[string]string) (*sinkConfig, error) {
	v, err := sinkConfigDef().Parse(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := ConnString(cfg); err != nil {
		return nil, fmt.Errorf("%w: %v", connect.ErrInvalidConfig, err)
	}
	c := &sinkConfig{
		conn:          cfg,
		tableFormat:   v[ConfigTableNameFormat].(string),
		insertMode:    strings.ToLower(v[ConfigInsertMode].(string)),
		pkMode:        strings.ToLower(firstNonEmpty(v[ConfigPKMode].(string), v[ConfigPrimaryKeyMode].(string), PKModeNone)),
		pkFields:      v[ConfigPKFields].([]string),
		autoCreate:    v[ConfigAutoCreate].(bool),
		autoEvolve:    v[ConfigAutoEvolve].(bool),
		deleteEnabled: v[ConfigDeleteEnabled].(bool),
		batchSize:     int(v[ConfigBatchSize].(int32)),
	}
	if len(c.pkFields) == 0 {
		c.pkFields = v[ConfigPrimaryKeyFields].([]string)
	}
	if strings.EqualFold(v[ConfigSchemaEvolution].(string), "basic") {
		c.autoCreate, c.autoEvolve = true, true
	}
	if c.pkMode == PKModeNone && len(c.pkFields) > 0 {
		return nil, fmt.Errorf("%w: pk.fields is set (%s) but pk.mode is none", connect.ErrInvalidConfig, strings.Join(c.pkFields, ","))
	}
	if c.pkMode == PKModeKafka && len(c.pkFields) > 0 {
		return nil, fmt.Errorf("%w: pk.fields must be empty with pk.mode=kafka (the key is __connect_topic, __connect_partition, __connect_offset)", connect.ErrInvalidConfig)
	}
	if c.insertMode != InsertModeInsert && c.pkMode == PKModeNone {
		return nil, fmt.Errorf("%w: insert.mode=%s needs a primary key: set pk.mode to record_key, record_value or kafka", connect.ErrInvalidConfig, c.insertMode)
	}
	if c.deleteEnabled && c.pkMode != PKModeRecordKey {
		return nil, fmt.Errorf("%w: delete.enabled=true requires pk.mode=record_key (pk.mode is %s)", connect.ErrInvalidConfig, c.pkMode)
	}
	return c, nil
}

// SinkConnector is the PostgresSink connector.
type SinkConnector struct{ config map[string]string }

// Version implements connect.Connector.
func (*SinkConnector) Version() string { return connect.Version }

// ConfigDef implements connect.Connector.
func (*SinkConnector) ConfigDef() *connect.ConfigDef { return sinkConfigDef() }

// Start implements connect.Connector: it checks the config's combinations (insert.mode against
// pk.mode, delete.enabled), so a bad combination fails the connector at once.
func (c *SinkConnector) Start(_ connect.ConnectorContext, config map[string]string) error {
	if _, err := parseSinkConfig(config); err != nil {
		return err
	}
	c.config = config
	return nil
}

// TaskConfigs implements connect.Connector: every task gets the full config; the consumer group
// spreads the partitions over them.
func (c *SinkConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	out := make([]map[string]string, maxTasks)
	for i := range out {
		out[i] = maps.Clone(c.config)
	}
	return out, nil
}

// Stop implements connect.Connector.
func (*SinkConnector) Stop() error { return nil }

// NewTask implements connect.SinkConnector.
func (*SinkConnector) NewTask() connect.SinkTask { return &SinkTask{} }

// SinkTask writes records to Postgres over one connection. A Put that loses the connection fails
// with a connect.RetriableError, and the next Put reconnects, so errors.retry.timeout rides out a
// Postgres restart. Put, Flush and Stop are called from one goroutine at a time (connect.SinkTask),
// so it needs no lock.
type SinkTask struct {
	cfg    *sinkConfig
	conn   *pgx.Conn
	w      *writer
	logger *slog.Logger
}

// opTimeout bounds one Put's transaction, so a hung server fails the task instead of stalling it.
const opTimeout = 5 * time.Minute

// Start implements connect.SinkTask: it parses the config and connects.
func (t *SinkTask) Start(tctx connect.SinkTaskContext, config map[string]string) error {
	cfg, err := parseSinkConfig(config)
	if err != nil {
		return err
	}
	t.cfg = cfg
	t.logger = taskLogger(tctx).With("component", "postgres-sink")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return t.connect(ctx)
}

// Put implements connect.SinkTask: the records are written in one transaction that has committed
// when Put returns nil. On error nothing of them is in the tables.
func (t *SinkTask) Put(records []connect.SinkRecord) error {
	changes := make([]change, 0, len(records))
	for i := range records {
		ch, err := t.cfg.toChange(&records[i])
		if err != nil {
			return fmt.Errorf("postgres sink: record %s-%d@%d: %w", records[i].Topic, records[i].Partition, records[i].Offset, err)
		}
		if ch != nil {
			changes = append(changes, *ch)
		}
	}
	if len(changes) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if t.conn == nil || t.conn.IsClosed() {
		// The connection was lost by an earlier Put that the worker is now retrying.
		if err := t.connect(ctx); err != nil {
			return &connect.RetriableError{Err: err}
		}
	}
	err := t.w.write(ctx, changes)
	if err != nil && t.conn.IsClosed() {
		// NB: retriable, so errors.retry.timeout lets the worker put the batch again once Postgres
		// is back (the transaction rolled back with the connection); with the default of 0 the
		// task fails at once.
		return &connect.RetriableError{Err: err}
	}
	return err
}

// connect (re)opens the connection, with an empty table cache.
func (t *SinkTask) connect(ctx context.Context) error {
	if t.conn != nil {
		_ = t.conn.Close(ctx)
		t.conn = nil
	}
	conn, err := Connect(ctx, t.cfg.conn)
	if err != nil {
		return err
	}
	t.conn = conn
	t.w = newWriter(conn, t.cfg, t.logger)
	return nil
}

// Flush implements connect.SinkTask. Every Put has already committed its transaction, and the
// worker passes only offsets of records whose Put returned nil, so they are all safe to commit.
func (t *SinkTask) Flush(map[connect.TopicPartition]int64) error { return nil }

// Stop implements connect.SinkTask: it closes the connection. Idempotent.
func (t *SinkTask) Stop() error {
	if t.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := t.conn.Close(ctx)
	t.conn = nil
	return err
}

// taskLogger is the worker's logger for the task (it names the connector and task), or
// slog.Default() when the context has none.
func taskLogger(ctx any) *slog.Logger {
	if cl, ok := ctx.(connect.ContextLogger); ok && cl.Logger() != nil {
		return cl.Logger()
	}
	return slog.Default()
}
