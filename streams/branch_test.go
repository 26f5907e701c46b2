package streams_test

import (
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
)

func TestRepartitionWritesThroughTheNamedTopicSoThatCountsFollowTheNewKey(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "visits", 2)
	createTopic(t, addr, "per-country", 1)
	b := streams.NewBuilder()
	visits := streams.Stream(b, "visits", statestore.String{}, statestore.String{}) // user → "country/page"
	byCountry := streams.SelectKey(visits, func(_, v string) string { return strings.SplitN(v, "/", 2)[0] }, statestore.String{}).
		Repartition(streams.Named("by-country"))
	streams.MapValues(byCountry.GroupByKey().Count().ToStream(), func(_ string, n int64) string { return strings.Repeat("|", int(n)) }, statestore.String{}).
		To("per-country", nil, nil)
	app := startApp(t, build(t, b), streams.Config{ApplicationID: "rp", BootstrapServers: []string{addr}, StateDir: t.TempDir(),
		CacheMaxBytes: -1}) // every update is asserted: no record cache
	produceKV(t, addr, "visits", put("u1", "fr/home"), put("u2", "fr/cart"), put("u3", "de/home"))
	expectPerKey(t, app, addr, "per-country", map[string][]string{"fr": {"|", "||"}, "de": {"|"}})
	// The records went through the named topic, one per visit.
	waitRecords(t, addr, "rp-by-country-repartition", 3)
}
