package streams_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
)

func TestTableGroupByCountsAndSumsFollowRowsMovingBetweenGroups(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "users", 2)
	createTopic(t, addr, "region-counts", 1)
	createTopic(t, addr, "region-scores", 1)

	// A user is "<region>:<score>".
	b := streams.NewBuilder()
	users := streams.Table(b, "users", statestore.String{}, statestore.String{})
	byRegion := streams.GroupTableBy(users, func(_ string, u string) (string, int64) {
		region, score, _ := strings.Cut(u, ":")
		n, _ := strconv.ParseInt(score, 10, 64)
		return region, n
	}, statestore.String{}, statestore.Int64{}, streams.Named("by-region"))
	itoa := func(_ string, n int64) string { return strconv.FormatInt(n, 10) }
	streams.MapTableValues(byRegion.Count(streams.Materialized("region-counts")), itoa, statestore.String{}).
		ToStream().To("region-counts", nil, nil)
	streams.MapTableValues(byRegion.Reduce(func(a, v int64) int64 { return a + v }, func(a, v int64) int64 { return a - v }), itoa, statestore.String{}).
		ToStream().To("region-scores", nil, nil)
	app := startApp(t, build(t, b), streams.Config{ApplicationID: "grp", BootstrapServers: []string{addr}, StateDir: t.TempDir()})

	// Each user is on one partition of "users", so its updates apply in order; the groups'
	// outputs depend on that order only, whatever the interleaving of users.
	produceKV(t, addr, "users", put("u1", "eu:10"), put("u1", "us:10"), del("u1"))
	expectPerKey(t, app, addr, "region-counts", map[string][]string{"eu": {"1", "0"}, "us": {"1", "0"}})
	produceKV(t, addr, "users", put("u2", "eu:5"))
	expectPerKey(t, app, addr, "region-counts", map[string][]string{"eu": {"1", "0", "1"}, "us": {"1", "0"}})
	produceKV(t, addr, "users", put("u3", "eu:7"))
	expectPerKey(t, app, addr, "region-counts", map[string][]string{"eu": {"1", "0", "1", "2"}, "us": {"1", "0"}})
	produceKV(t, addr, "users", put("u2", "eu:6")) // same group: one update, not -1 then +1
	expectPerKey(t, app, addr, "region-scores", map[string][]string{
		"eu": {"10", "0", "5", "12", "13"}, "us": {"10", "0"}})
	expectPerKey(t, app, addr, "region-counts", map[string][]string{"eu": {"1", "0", "1", "2", "2"}, "us": {"1", "0"}})
}
