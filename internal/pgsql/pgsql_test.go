package pgsql

import "testing"

func TestQuoteIdentDoublesQuotesAndJoinsParts(t *testing.T) {
	for _, c := range []struct {
		parts []string
		want  string
	}{
		{[]string{"orders"}, `"orders"`},
		{[]string{"public", "orders"}, `"public"."orders"`},
		{[]string{`we"ird`, "Mixed Case"}, `"we""ird"."Mixed Case"`},
	} {
		if got := QuoteIdent(c.parts...); got != c.want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", c.parts, got, c.want)
		}
	}
}
