package streams_test

import (
	"fmt"
	"testing"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
)

type activity struct {
	Clicks int64 `json:"clicks"`
	Views  int64 `json:"views"`
}

func TestCogroupAggregatesSeveralStreamsIntoOneTable(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "clicks", 2)
	createTopic(t, addr, "views", 2)
	createTopic(t, addr, "activity", 1)
	b := streams.NewBuilder()
	clicks := streams.Stream(b, "clicks", statestore.String{}, statestore.String{}).GroupByKey()
	views := streams.Stream(b, "views", statestore.String{}, statestore.String{}).GroupByKey()
	cg := streams.Cogroup(clicks, func(_, _ string, a activity) activity { a.Clicks++; return a })
	cg = streams.CogroupWith(cg, views, func(_, _ string, a activity) activity { a.Views++; return a })
	table := cg.Aggregate(func() activity { return activity{} }, statestore.JSON[activity]{}, streams.Materialized("activity"))
	streams.MapTableValues(table, func(_ string, a activity) string { return fmt.Sprintf("c%d v%d", a.Clicks, a.Views) }, statestore.String{}).
		ToStream().To("activity", nil, nil)
	app := startApp(t, build(t, b), streams.Config{ApplicationID: "cog", BootstrapServers: []string{addr}, StateDir: t.TempDir()})

	produceKV(t, addr, "clicks", put("u1", "home"), put("u1", "cart"), put("u2", "home"))
	expectPerKey(t, app, addr, "activity", map[string][]string{"u1": {"c1 v0", "c2 v0"}, "u2": {"c1 v0"}})
	produceKV(t, addr, "views", put("u2", "ad"), put("u3", "ad"))
	expectPerKey(t, app, addr, "activity", map[string][]string{"u1": {"c1 v0", "c2 v0"}, "u2": {"c1 v0", "c1 v1"}, "u3": {"c0 v1"}})
}
