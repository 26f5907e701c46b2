package postgres_test

import (
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/connectors/postgres"
)

func TestConnStringAcceptsJDBCAndPostgresURLsAndHostKeys(t *testing.T) {
	for _, tc := range []struct {
		cfg  map[string]string
		want string
	}{
		{map[string]string{"connection.url": "jdbc:postgresql://db.local:5433/shop"}, "postgres://db.local:5433/shop"},
		{map[string]string{"connection.url": "jdbc:postgresql://db.local/shop?user=u&password=p%40ss&ssl=true&currentSchema=app&loggerLevel=OFF"},
			"postgres://u:p%40ss@db.local/shop?search_path=app&sslmode=require"},
		{map[string]string{"connection.url": "jdbc:postgresql://h:1/d?user=old", "connection.user": "new", "connection.password": "pw"}, "postgres://new:pw@h:1/d"},
		{map[string]string{"connection.url": "postgres://a:b@h:5432/d?sslmode=disable"}, "postgres://a:b@h:5432/d?sslmode=disable"},
		{map[string]string{"connection.url": "postgresql://h/d", "connection.username": "dbz"}, "postgres://dbz@h/d"},
		{map[string]string{"connection.url": "host=h dbname=d", "connection.user": "u"}, "host=h dbname=d user='u'"},
		{map[string]string{"database.hostname": "h", "database.dbname": "inventory", "database.user": "postgres", "database.password": "secret"},
			"postgres://postgres:secret@h:5432/inventory"},
		{map[string]string{"database.hostname": "::1", "database.port": "6543", "database.dbname": "d"}, "postgres://[::1]:6543/d"},
	} {
		got, err := postgres.ConnString(tc.cfg)
		if err != nil || got != tc.want {
			t.Errorf("ConnString(%v) = %q, %v; want %q", tc.cfg, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		cfg  map[string]string
		want string
	}{
		{map[string]string{}, "connection.url"},
		{map[string]string{"connection.url": "jdbc:mysql://h/d"}, "mysql"},
		{map[string]string{"database.hostname": "h"}, "database.dbname"},
		{map[string]string{"database.hostname": "h", "database.dbname": "d", "database.port": "x"}, "database.port"},
	} {
		if _, err := postgres.ConnString(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ConnString(%v) error = %v, want one naming %s", tc.cfg, err, tc.want)
		}
	}
	if got := postgres.Redact("postgres://u:secret@h/d?password=hunter2"); strings.Contains(got, "secret") || strings.Contains(got, "hunter2") {
		t.Errorf("Redact kept a password: %s", got)
	}
}
