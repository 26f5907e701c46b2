package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/gregor-streams/gregor/connect"
	"github.com/jackc/pgx/v5"
)

// Connection config keys shared by the Postgres connectors. connection.* are the JDBC connectors'
// names (Confluent's and Debezium's JDBC sink); database.* are Debezium's Postgres connector names.
const (
	ConfigConnectionURL      = "connection.url"
	ConfigConnectionUser     = "connection.user"
	ConfigConnectionUsername = "connection.username" // Debezium JDBC sink's spelling
	ConfigConnectionPassword = "connection.password"
	ConfigDatabaseHostname   = "database.hostname"
	ConfigDatabasePort       = "database.port"
	ConfigDatabaseUser       = "database.user"
	ConfigDatabasePassword   = "database.password"
	ConfigDatabaseDBName     = "database.dbname"
)

// errNoConnection reports a config that names no database.
var errNoConnection = errors.New("postgres: no connection configured: set connection.url (jdbc:postgresql://host:port/db or postgres://...) or database.hostname and database.dbname")

// ConnString builds a pgx connection string from a connector config: connection.url (a JDBC URL
// jdbc:postgresql://host:port/db?user=..&password=.. or a postgres:// URL or key=value DSN) with
// connection.user (or connection.username) and connection.password overriding the URL's, or else
// database.hostname, database.port (default 5432), database.user, database.password and
// database.dbname. The result never logs the password: use Redact for messages.
func ConnString(cfg map[string]string) (string, error) {
	raw := strings.TrimSpace(cfg[ConfigConnectionURL])
	user := firstNonEmpty(cfg[ConfigConnectionUser], cfg[ConfigConnectionUsername])
	password := cfg[ConfigConnectionPassword]
	if raw == "" {
		host := strings.TrimSpace(cfg[ConfigDatabaseHostname])
		db := strings.TrimSpace(cfg[ConfigDatabaseDBName])
		if host == "" || db == "" {
			return "", errNoConnection
		}
		port := strings.TrimSpace(cfg[ConfigDatabasePort])
		if port == "" {
			port = "5432"
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("postgres: %s: %q is not a port number", ConfigDatabasePort, port)
		}
		u := &url.URL{Scheme: "postgres", Host: net.JoinHostPort(host, port), Path: "/" + db}
		user = firstNonEmpty(user, cfg[ConfigDatabaseUser])
		password = firstNonEmpty(password, cfg[ConfigDatabasePassword])
		setUserInfo(u, user, password)
		return u.String(), nil
	}
	if !strings.Contains(raw, "://") {
		// A key=value DSN: append overrides, which pgx lets win over earlier keys.
		if user != "" {
			raw += " user=" + dsnQuote(user)
		}
		if password != "" {
			raw += " password=" + dsnQuote(password)
		}
		return raw, nil
	}
	jdbc := strings.HasPrefix(raw, "jdbc:")
	u, err := url.Parse(strings.TrimPrefix(raw, "jdbc:"))
	if err != nil {
		return "", fmt.Errorf("postgres: %s: %v", ConfigConnectionURL, err)
	}
	switch u.Scheme {
	case "postgresql", "postgres":
	default:
		return "", fmt.Errorf("postgres: %s: scheme %q is not postgresql (want jdbc:postgresql://host:port/db or postgres://...)", ConfigConnectionURL, u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("postgres: %s: no host in %s", ConfigConnectionURL, Redact(raw))
	}
	q := u.Query()
	if jdbc {
		q = jdbcParams(q)
	}
	if user == "" {
		user = q.Get("user")
	}
	if password == "" {
		password = q.Get("password")
	}
	if user == "" && u.User != nil {
		user = u.User.Username()
	}
	if p, ok := u.User.Password(); password == "" && ok {
		password = p
	}
	q.Del("user")
	q.Del("password")
	u.Scheme = "postgres"
	u.RawQuery = q.Encode()
	setUserInfo(u, user, password)
	return u.String(), nil
}

// jdbcParams maps pgjdbc's URL properties to libpq's; properties without an equivalent are dropped
// (pgx would send them to the server as runtime parameters, which it rejects).
func jdbcParams(in url.Values) url.Values {
	out := url.Values{}
	for k, vs := range in {
		if len(vs) == 0 {
			continue
		}
		v := vs[len(vs)-1]
		switch k {
		case "user", "password", "sslmode", "sslcert", "sslkey", "sslrootcert", "application_name":
			out.Set(k, v)
		case "ssl":
			if v == "true" && in.Get("sslmode") == "" {
				out.Set("sslmode", "require")
			}
		case "ApplicationName":
			out.Set("application_name", v)
		case "currentSchema":
			out.Set("search_path", v)
		case "connectTimeout":
			out.Set("connect_timeout", v)
		}
	}
	return out
}

func setUserInfo(u *url.URL, user, password string) {
	switch {
	case user != "" && password != "":
		u.User = url.UserPassword(user, password)
	case user != "":
		u.User = url.User(user)
	default:
		u.User = nil
	}
}

func dsnQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// Redact returns a connection string with any password replaced by "xxxxx", for messages.
func Redact(conn string) string {
	if strings.Contains(conn, "://") {
		u, err := url.Parse(strings.TrimPrefix(conn, "jdbc:"))
		if err != nil {
			return "(unparsable connection URL)"
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		s := u.String()
		if strings.HasPrefix(conn, "jdbc:") {
			s = "jdbc:" + s
		}
		return s
	}
	var parts []string
	for _, f := range strings.Fields(conn) {
		if strings.HasPrefix(f, "password=") {
			f = "password=xxxxx"
		}
		parts = append(parts, f)
	}
	return strings.Join(parts, " ")
}

// URLValidator rejects a connection.url that ConnString cannot use (another database's JDBC URL,
// a URL without host); an empty one is allowed, since database.* keys may name the database.
func URLValidator() connect.Validator {
	return connect.ValidatorFunc(func(_ string, v any) error {
		s, _ := v.(string)
		if strings.TrimSpace(s) == "" {
			return nil
		}
		if _, err := ConnString(map[string]string{ConfigConnectionURL: s}); err != nil {
			return errors.New(strings.TrimPrefix(err.Error(), "postgres: "+ConfigConnectionURL+": "))
		}
		return nil
	})
}

// Connect opens one connection from a connector config, in UTC so timestamps without a time zone
// read and write as UTC wall time. Errors name the (redacted) connection string.
func Connect(ctx context.Context, cfg map[string]string) (*pgx.Conn, error) {
	cs, err := ConnString(cfg)
	if err != nil {
		return nil, err
	}
	pc, err := pgx.ParseConfig(cs)
	if err != nil {
		return nil, fmt.Errorf("postgres: connection %s: %w", Redact(cs), err)
	}
	if pc.RuntimeParams == nil {
		pc.RuntimeParams = map[string]string{}
	}
	pc.RuntimeParams["timezone"] = "UTC"
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: connecting to %s: %w", Redact(cs), err)
	}
	return conn, nil
}
