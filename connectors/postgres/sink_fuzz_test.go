package postgres

import "testing"

// FuzzConnString checks that no connection setting makes ConnString or Redact panic.
func FuzzConnString(f *testing.F) {
	for _, s := range []string{"jdbc:postgresql://h:5432/db?user=u&password=p", "postgres://u:p@h/d", "host=h password=p", "jdbc:postgresql://[::1", "%", ""} {
		f.Add(s, "u", "p")
	}
	f.Fuzz(func(t *testing.T, url, user, password string) {
		cs, err := ConnString(map[string]string{"connection.url": url, "connection.user": user, "connection.password": password})
		if err != nil {
			return
		}
		_ = Redact(cs)
	})
}
