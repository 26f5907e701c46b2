package cron

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/connectors/postgres"
	robfig "github.com/robfig/cron/v3"
)

// Class name and config keys.
const (
	SourceClass = "CronQuerySource"

	ConfigQuery               = "query"
	ConfigTable               = "table"
	ConfigSchedule            = "schedule"
	ConfigMode                = "mode"
	ConfigIncrementingCol     = "incrementing.column.name"
	ConfigTimestampCol        = "timestamp.column.name"
	ConfigTopic               = "topic"
	ConfigCatchup             = "catchup"
	ConfigBatchMaxRows        = "batch.max.rows"
	ModeBulk                  = "bulk"
	ModeIncrementing          = "incrementing"
	ModeTimestamp             = "timestamp"
	ModeTimestampIncrementing = "timestamp+incrementing"
	CatchupSkip               = "skip"
	CatchupOnce               = "once"

	// Offset keys.
	OffsetIncrementing   = "incrementing"
	OffsetTimestamp      = "timestamp"
	OffsetTimestampNanos = "timestamp_nanos"
	OffsetLastFire       = "last_fire"
)

func init() {
	connect.Register(connect.Plugin{Class: SourceClass, Type: connect.PluginSource, Version: connect.Version,
		New: func() connect.Connector { return &SourceConnector{} }})
}

var parser = robfig.NewParser(robfig.SecondOptional | robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow | robfig.Descriptor)

// ParseSchedule parses a cron spec (seconds field optional, descriptors, CRON_TZ= prefix). It
// never panics, whatever the input.
func ParseSchedule(spec string) (s robfig.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if (strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=")) && !strings.Contains(spec, " ") {
		return nil, fmt.Errorf("%q has a time zone but no schedule after it", spec)
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("%q is not a valid cron schedule", spec)
		}
	}()
	s, err = parser.Parse(spec)
	if err != nil {
		return nil, err
	}
	// NB: a spec that never fires (Feb 30) makes Next return the zero time; refuse it now.
	if s.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("%q never fires", spec)
	}
	return s, nil
}

func scheduleValidator() connect.Validator {
	return connect.ValidatorFunc(func(_ string, v any) error {
		s, _ := v.(string)
		if _, err := ParseSchedule(s); err != nil {
			return fmt.Errorf("not a cron schedule (like \"@every 10s\", \"*/5 * * * * *\" or \"CRON_TZ=UTC 0 3 * * *\"): %v", err)
		}
		return nil
	})
}

func configDef() *connect.ConfigDef {
	g := "Database"
	d := connect.NewConfigDef().
		Define(connect.ConfigKey{Name: postgres.ConfigConnectionURL, Type: connect.TypeConfigString, Default: "", Importance: connect.High, Group: g, OrderInGroup: 1, Width: connect.WidthLong,
			Documentation: "JDBC URL (jdbc:postgresql://host:port/db), postgres:// URL or key=value DSN. Alternatively database.hostname and database.dbname.",
			Validator:     postgres.URLValidator()}).
		Define(connect.ConfigKey{Name: postgres.ConfigConnectionUser, Type: connect.TypeConfigString, Default: "", Importance: connect.High, Group: g, OrderInGroup: 2, Documentation: "Database user."}).
		Define(connect.ConfigKey{Name: postgres.ConfigConnectionPassword, Type: connect.TypeConfigPassword, Default: "", Importance: connect.High, Group: g, OrderInGroup: 3, Documentation: "Database password."}).
		Define(connect.ConfigKey{Name: postgres.ConfigDatabaseHostname, Type: connect.TypeConfigString, Default: "", Importance: connect.Low, Group: g, OrderInGroup: 4, Documentation: "Database host, when connection.url is not set."}).
		Define(connect.ConfigKey{Name: postgres.ConfigDatabasePort, Type: connect.TypeConfigInt, Default: "5432", Importance: connect.Low, Group: g, OrderInGroup: 5, Documentation: "Database port.", Validator: connect.AtLeast(1)}).
		Define(connect.ConfigKey{Name: postgres.ConfigDatabaseUser, Type: connect.TypeConfigString, Default: "", Importance: connect.Low, Group: g, OrderInGroup: 6, Documentation: "Database user, when connection.url is not set."}).
		Define(connect.ConfigKey{Name: postgres.ConfigDatabasePassword, Type: connect.TypeConfigPassword, Default: "", Importance: connect.Low, Group: g, OrderInGroup: 7, Documentation: "Database password, when connection.url is not set."}).
		Define(connect.ConfigKey{Name: postgres.ConfigDatabaseDBName, Type: connect.TypeConfigString, Default: "", Importance: connect.Low, Group: g, OrderInGroup: 8, Documentation: "Database name, when connection.url is not set."})
	g = "Query"
	d.Define(connect.ConfigKey{Name: ConfigQuery, Type: connect.TypeConfigString, Default: "", Importance: connect.High, Group: g, OrderInGroup: 1, Width: connect.WidthLong,
		Documentation: "The SELECT to run; mode filters are applied around it. Exactly one of query and table."}).
		Define(connect.ConfigKey{Name: ConfigTable, Type: connect.TypeConfigString, Default: "", Importance: connect.High, Group: g, OrderInGroup: 2,
			Documentation: "A table (or schema.table) to select from. Exactly one of query and table."}).
		Define(connect.ConfigKey{Name: ConfigMode, Type: connect.TypeConfigString, Default: ModeBulk, Importance: connect.High, Group: g, OrderInGroup: 3,
			Documentation: "bulk, incrementing, timestamp or timestamp+incrementing.",
			Validator:     connect.OneOf(ModeBulk, ModeIncrementing, ModeTimestamp, ModeTimestampIncrementing)}).
		Define(connect.ConfigKey{Name: ConfigIncrementingCol, Type: connect.TypeConfigString, Default: "", Importance: connect.Medium, Group: g, OrderInGroup: 4,
			Documentation: "A strictly increasing integer column (incrementing and timestamp+incrementing modes)."}).
		Define(connect.ConfigKey{Name: ConfigTimestampCol, Type: connect.TypeConfigString, Default: "", Importance: connect.Medium, Group: g, OrderInGroup: 5,
			Documentation: "A timestamp column updated on every change (timestamp and timestamp+incrementing modes)."}).
		Define(connect.ConfigKey{Name: ConfigBatchMaxRows, Type: connect.TypeConfigInt, Default: "100", Importance: connect.Low, Group: g, OrderInGroup: 6,
			Documentation: "Rows handed to the worker per poll at most.", Validator: connect.AtLeast(1)})
	g = "Schedule"
	d.Define(connect.ConfigKey{Name: ConfigSchedule, Type: connect.TypeConfigString, Default: connect.NoDefault, Importance: connect.High, Group: g, OrderInGroup: 1,
		Documentation: "Cron schedule of the runs: a spec with optional seconds field, a descriptor (@hourly, @every 30s), optionally prefixed by CRON_TZ=Zone.",
		Validator:     scheduleValidator()}).
		Define(connect.ConfigKey{Name: ConfigCatchup, Type: connect.TypeConfigString, Default: CatchupSkip, Importance: connect.Medium, Group: g, OrderInGroup: 2,
			Documentation: "Runs missed while stopped: skip them, or run once at start (once).", Validator: connect.OneOf(CatchupSkip, CatchupOnce)})
	d.Define(connect.ConfigKey{Name: ConfigTopic, Type: connect.TypeConfigString, Default: connect.NoDefault, Importance: connect.High, Group: "Output", OrderInGroup: 1,
		Documentation: "The topic the rows are produced to.", Validator: connect.NonEmptyString()})
	return d
}

// config is a parsed, cross-checked config.
type config struct {
	raw           map[string]string
	query, table  string
	schedule      robfig.Schedule
	mode          string
	incCol, tsCol string
	topic         string
	catchup       string
	batchMaxRows  int
}

func parseConfig(raw map[string]string) (*config, error) {
	v, err := configDef().Parse(raw)
	if err != nil {
		return nil, err
	}
	if _, err := postgres.ConnString(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", connect.ErrInvalidConfig, err)
	}
	c := &config{raw: raw, query: v[ConfigQuery].(string), table: v[ConfigTable].(string), mode: v[ConfigMode].(string),
		incCol: v[ConfigIncrementingCol].(string), tsCol: v[ConfigTimestampCol].(string), topic: v[ConfigTopic].(string),
		catchup: v[ConfigCatchup].(string), batchMaxRows: int(v[ConfigBatchMaxRows].(int32))}
	if c.schedule, err = ParseSchedule(v[ConfigSchedule].(string)); err != nil {
		return nil, fmt.Errorf("%w: schedule: %v", connect.ErrInvalidConfig, err)
	}
	if (c.query == "") == (c.table == "") {
		return nil, fmt.Errorf("%w: set exactly one of query and table", connect.ErrInvalidConfig)
	}
	needInc := c.mode == ModeIncrementing || c.mode == ModeTimestampIncrementing
	needTS := c.mode == ModeTimestamp || c.mode == ModeTimestampIncrementing
	if needInc && c.incCol == "" {
		return nil, fmt.Errorf("%w: mode=%s needs incrementing.column.name", connect.ErrInvalidConfig, c.mode)
	}
	if needTS && c.tsCol == "" {
		return nil, fmt.Errorf("%w: mode=%s needs timestamp.column.name", connect.ErrInvalidConfig, c.mode)
	}
	if !needInc {
		c.incCol = ""
	}
	if !needTS {
		c.tsCol = ""
	}
	return c, nil
}

// partition is the source partition of the config's query or table.
func (c *config) partition() map[string]any {
	if c.table != "" {
		return map[string]any{ConfigTable: c.table}
	}
	return map[string]any{ConfigQuery: c.query}
}

// SourceConnector is CronQuerySource. NB: it has postgres.SourceConnector's shape, which is
// connect.Connector's for a single-task source that validates in Start; the two differ in config
// and task, so there is nothing to share but the interface.
type SourceConnector struct{ config map[string]string }

// Version implements connect.Connector.
func (*SourceConnector) Version() string { return connect.Version }

// ConfigDef implements connect.Connector.
func (*SourceConnector) ConfigDef() *connect.ConfigDef { return configDef() }

// Start implements connect.Connector: it checks the combinations of keys (query or table, the
// columns the mode needs).
func (c *SourceConnector) Start(_ connect.ConnectorContext, cfg map[string]string) error {
	if _, err := parseConfig(cfg); err != nil {
		return err
	}
	c.config = cfg
	return nil
}

// TaskConfigs implements connect.Connector: one task, since one query cannot be split.
func (c *SourceConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.config)}, nil
}

// Stop implements connect.Connector.
func (*SourceConnector) Stop() error { return nil }

// NewTask implements connect.SourceConnector.
func (*SourceConnector) NewTask() connect.SourceTask { return &SourceTask{} }
