package postgres

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/connect"
)

// Debezium's class name and config keys.
const (
	SourceClass = "io.debezium.connector.postgresql.PostgresConnector"

	ConfigHostname          = "database.hostname"
	ConfigPort              = "database.port"
	ConfigUser              = "database.user"
	ConfigPassword          = "database.password"
	ConfigDBName            = "database.dbname"
	ConfigTopicPrefix       = "topic.prefix"
	ConfigPluginName        = "plugin.name"
	ConfigSlotName          = "slot.name"
	ConfigSlotDropOnStop    = "slot.drop.on.stop"
	ConfigPublicationName   = "publication.name"
	ConfigPublicationMode   = "publication.autocreate.mode"
	ConfigTableInclude      = "table.include.list"
	ConfigTableExclude      = "table.exclude.list"
	ConfigColumnExclude     = "column.exclude.list"
	ConfigSnapshotMode      = "snapshot.mode"
	ConfigSnapshotProgress  = "snapshot.progress.interval.ms"
	ConfigHeartbeatInterval = "heartbeat.interval.ms"
	ConfigTombstones        = "tombstones.on.delete"
	ConfigDecimalHandling   = "decimal.handling.mode"
	ConfigTimePrecision     = "time.precision.mode"
	ConfigSkippedOps        = "skipped.operations"
)

// Snapshot modes (snapshot.mode).
const (
	SnapshotInitial     = "initial"
	SnapshotNoData      = "no_data"
	SnapshotInitialOnly = "initial_only"
	SnapshotAlways      = "always"
	SnapshotWhenNeeded  = "when_needed"
)

// Publication autocreate modes (publication.autocreate.mode).
const (
	PublicationAllTables = "all_tables"
	PublicationFiltered  = "filtered"
	PublicationDisabled  = "disabled"
)

func sourceConfigDef() *connect.ConfigDef {
	const g = "Postgres"
	d := connect.NewConfigDef()
	order := 0
	def := func(k connect.ConfigKey) {
		order++
		k.Group, k.OrderInGroup = g, order
		d.Define(k)
	}
	def(connect.ConfigKey{Name: ConfigHostname, Type: connect.TypeConfigString, Default: connect.NoDefault, Importance: connect.High,
		Documentation: "Resolvable hostname or IP address of the database server.", Validator: connect.NonEmptyString()})
	def(connect.ConfigKey{Name: ConfigPort, Type: connect.TypeConfigInt, Default: "5432", Importance: connect.High,
		Documentation: "Port of the database server.", Validator: connect.AtLeast(1)})
	def(connect.ConfigKey{Name: ConfigUser, Type: connect.TypeConfigString, Default: connect.NoDefault, Importance: connect.High,
		Documentation: "Name of the database user (needs the REPLICATION attribute).", Validator: connect.NonEmptyString()})
	def(connect.ConfigKey{Name: ConfigPassword, Type: connect.TypeConfigPassword, Default: "", Importance: connect.High,
		Documentation: "Password of the database user."})
	def(connect.ConfigKey{Name: ConfigDBName, Type: connect.TypeConfigString, Default: connect.NoDefault, Importance: connect.High,
		Documentation: "Name of the database to capture changes from.", Validator: connect.NonEmptyString()})
	def(connect.ConfigKey{Name: ConfigTopicPrefix, Type: connect.TypeConfigString, Default: connect.NoDefault, Importance: connect.High,
		Documentation: "Prefix of every topic the connector writes (<topic.prefix>.<schema>.<table>); also the source partition's server name.",
		Validator:     topicPrefixValidator()})
	def(connect.ConfigKey{Name: ConfigPluginName, Type: connect.TypeConfigString, Default: "pgoutput", Importance: connect.Medium,
		Documentation: "Logical decoding plugin; only pgoutput (built into Postgres 10+) is supported.",
		Validator: connect.ValidatorFunc(func(_ string, v any) error {
			if s, _ := v.(string); s != "pgoutput" {
				return fmt.Errorf("logical decoding plugin %q is not supported; use pgoutput (decoderbufs and wal2json need server-side plugins Gregor does not decode)", s)
			}
			return nil
		})})
	def(connect.ConfigKey{Name: ConfigSlotName, Type: connect.TypeConfigString, Default: "debezium", Importance: connect.Medium,
		Documentation: "Name of the logical replication slot.", Validator: identifierValidator()})
	def(connect.ConfigKey{Name: ConfigSlotDropOnStop, Type: connect.TypeConfigBoolean, Default: "false", Importance: connect.Low,
		Documentation: "Drop the replication slot when the task stops gracefully (connector deleted, paused or moved, worker stopped). " +
			"Off by default, as in Debezium: the slot keeps the changes made while the connector is stopped, and holds the server's WAL until it resumes or the slot is dropped."})
	def(connect.ConfigKey{Name: ConfigPublicationName, Type: connect.TypeConfigString, Default: "dbz_publication", Importance: connect.Medium,
		Documentation: "Name of the publication pgoutput streams.", Validator: identifierValidator()})
	def(connect.ConfigKey{Name: ConfigPublicationMode, Type: connect.TypeConfigString, Default: PublicationAllTables, Importance: connect.Low,
		Documentation: "all_tables creates the publication FOR ALL TABLES if missing; filtered creates or alters it to the captured tables; disabled requires it to exist.",
		Validator:     connect.OneOf(PublicationAllTables, PublicationFiltered, PublicationDisabled)})
	def(connect.ConfigKey{Name: ConfigTableInclude, Type: connect.TypeConfigList, Default: "", Importance: connect.Medium,
		Documentation: "Regular expressions matching the fully-qualified names (schema.table) of tables to capture.", Validator: regexListValidator()})
	def(connect.ConfigKey{Name: ConfigTableExclude, Type: connect.TypeConfigList, Default: "", Importance: connect.Medium,
		Documentation: "Regular expressions matching fully-qualified names (schema.table) of tables not to capture.", Validator: regexListValidator()})
	def(connect.ConfigKey{Name: ConfigColumnExclude, Type: connect.TypeConfigList, Default: "", Importance: connect.Medium,
		Documentation: "Regular expressions matching fully-qualified column names (schema.table.column) to leave out of change events.", Validator: regexListValidator()})
	def(connect.ConfigKey{Name: ConfigSnapshotMode, Type: connect.TypeConfigString, Default: SnapshotInitial, Importance: connect.Low,
		Documentation: "When to snapshot the captured tables: initial, no_data, initial_only, always, when_needed.",
		Validator:     connect.OneOf(SnapshotInitial, SnapshotNoData, SnapshotInitialOnly, SnapshotAlways, SnapshotWhenNeeded)})
	def(connect.ConfigKey{Name: ConfigSnapshotProgress, Type: connect.TypeConfigInt, Default: "5000", Importance: connect.Low,
		Documentation: "How often (ms) the snapshot logs, per table, the rows copied, the table's estimated rows (pg_class.reltuples), the percentage and the ETA; 0 logs after every row.",
		Validator:     connect.AtLeast(0)})
	def(connect.ConfigKey{Name: ConfigHeartbeatInterval, Type: connect.TypeConfigInt, Default: "0", Importance: connect.Medium,
		Documentation: "How often (ms) to emit a heartbeat record to __debezium-heartbeat.<topic.prefix> so the slot advances on an idle database; 0 disables.",
		Validator:     connect.AtLeast(0)})
	def(connect.ConfigKey{Name: ConfigTombstones, Type: connect.TypeConfigBoolean, Default: "true", Importance: connect.Medium,
		Documentation: "Whether a delete event is followed by a tombstone (same key, null value)."})
	def(connect.ConfigKey{Name: ConfigDecimalHandling, Type: connect.TypeConfigString, Default: "precise", Importance: connect.Medium,
		Documentation: "How numeric/decimal columns are represented: precise (Connect Decimal), double or string.",
		Validator:     connect.OneOf("precise", "double", "string")})
	def(connect.ConfigKey{Name: ConfigTimePrecision, Type: connect.TypeConfigString, Default: "adaptive", Importance: connect.Medium,
		Documentation: "How time values are represented: adaptive, adaptive_time_microseconds or connect.",
		Validator:     connect.OneOf("adaptive", "adaptive_time_microseconds", "connect")})
	def(connect.ConfigKey{Name: ConfigSkippedOps, Type: connect.TypeConfigList, Default: "t", Importance: connect.Low,
		Documentation: "Operations not to emit: any of c (create), u (update), d (delete), t (truncate), or none. Truncate events have no key, which compacted topics refuse, so they are skipped by default.",
		Validator: connect.ValidatorFunc(func(_ string, v any) error {
			l, _ := v.([]string)
			for _, op := range l {
				switch op {
				case "c", "u", "d", "t", "none":
				default:
					return fmt.Errorf("%q is not an operation: use c, u, d, t or none", op)
				}
			}
			return nil
		})})
	return d
}

var identifierRE = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

func identifierValidator() connect.Validator {
	return connect.ValidatorFunc(func(_ string, v any) error {
		if s, _ := v.(string); !identifierRE.MatchString(s) {
			return fmt.Errorf("must be 1 to 63 characters of lower-case letters, digits and underscores")
		}
		return nil
	})
}

var topicPrefixRE = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

func topicPrefixValidator() connect.Validator {
	return connect.ValidatorFunc(func(_ string, v any) error {
		s, _ := v.(string)
		if s == "" {
			return fmt.Errorf("string must be non-empty")
		}
		if !topicPrefixRE.MatchString(s) {
			return fmt.Errorf("may contain only ASCII letters, digits, '.', '_' and '-'")
		}
		return nil
	})
}

func regexListValidator() connect.Validator {
	return connect.ValidatorFunc(func(_ string, v any) error {
		l, _ := v.([]string)
		for _, s := range l {
			if _, err := regexp.Compile(s); err != nil {
				return fmt.Errorf("%q is not a valid regular expression: %v", s, err)
			}
		}
		return nil
	})
}

// config is a parsed, validated connector config.
type config struct {
	host, user, password, dbname string
	port                         int
	topicPrefix                  string
	slot, publication            string
	slotDropOnStop               bool
	publicationMode              string
	tableInclude, tableExclude   []*regexp.Regexp
	columnExclude                []*regexp.Regexp
	snapshotMode                 string
	snapshotProgress             time.Duration
	heartbeat                    time.Duration
	tombstones                   bool
	decimalMode                  string
	timeMode                     string
	skipped                      map[string]bool // operations not emitted (skipped.operations)
}

func parseConfig(raw map[string]string) (*config, error) {
	v, err := sourceConfigDef().Parse(raw)
	if err != nil {
		return nil, err
	}
	str := func(k string) string { s, _ := v[k].(string); return s }
	num := func(k string) int {
		switch n := v[k].(type) {
		case int32:
			return int(n)
		case int64:
			return int(n)
		}
		return 0
	}
	list := func(k string) []*regexp.Regexp {
		l, _ := v[k].([]string)
		var out []*regexp.Regexp
		for _, s := range l {
			// Like Debezium, an expression must match the whole name.
			out = append(out, regexp.MustCompile("^(?:"+s+")$")) // validated above
		}
		return out
	}
	c := &config{
		host: str(ConfigHostname), port: num(ConfigPort), user: str(ConfigUser), password: str(ConfigPassword),
		dbname: str(ConfigDBName), topicPrefix: str(ConfigTopicPrefix), slot: str(ConfigSlotName),
		publication: str(ConfigPublicationName), publicationMode: str(ConfigPublicationMode),
		tableInclude: list(ConfigTableInclude), tableExclude: list(ConfigTableExclude), columnExclude: list(ConfigColumnExclude),
		snapshotMode: str(ConfigSnapshotMode), snapshotProgress: time.Duration(num(ConfigSnapshotProgress)) * time.Millisecond,
		heartbeat:   time.Duration(num(ConfigHeartbeatInterval)) * time.Millisecond,
		decimalMode: str(ConfigDecimalHandling), timeMode: str(ConfigTimePrecision),
	}
	c.tombstones, _ = v[ConfigTombstones].(bool)
	c.slotDropOnStop, _ = v[ConfigSlotDropOnStop].(bool)
	c.skipped = map[string]bool{}
	ops, _ := v[ConfigSkippedOps].([]string)
	for _, op := range ops {
		if op != "none" {
			c.skipped[op] = true
		}
	}
	return c, nil
}

// connString is a key/value libpq connection string; replication adds replication=database.
func (c *config) connString(replication bool) string {
	q := func(s string) string { return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'" }
	parts := []string{
		"host=" + q(c.host), "port=" + strconv.Itoa(c.port), "user=" + q(c.user), "dbname=" + q(c.dbname),
		"sslmode=prefer", "connect_timeout=10",
		// NB: the text forms we parse (dates, timestamps, floats) depend on these session settings.
		"DateStyle=ISO", "TimeZone=UTC", "extra_float_digits=3", "IntervalStyle=iso_8601", "bytea_output=hex",
		"application_name=" + q("gregor-cdc-"+c.topicPrefix),
	}
	if c.password != "" {
		parts = append(parts, "password="+q(c.password))
	}
	if replication {
		parts = append(parts, "replication=database")
	}
	return strings.Join(parts, " ")
}

// captured reports whether a table (schema.table) is captured under the include/exclude lists.
func (c *config) captured(schema, table string) bool {
	name := schema + "." + table
	if len(c.tableInclude) > 0 {
		ok := false
		for _, re := range c.tableInclude {
			if re.MatchString(name) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, re := range c.tableExclude {
		if re.MatchString(name) {
			return false
		}
	}
	return true
}

func (c *config) columnExcluded(schema, table, column string) bool {
	name := schema + "." + table + "." + column
	for _, re := range c.columnExclude {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}
