package streams_test

import (
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
)

func TestTableAndJoinBuildErrorsNameTheProblem(t *testing.T) {
	str := statestore.String{}
	for _, tc := range []struct {
		name  string
		build func(b *streams.Builder)
		want  string
	}{
		{"table and stream of one topic", func(b *streams.Builder) {
			streams.Stream(b, "in", str, str)
			streams.Table(b, "in", str, str)
		}, `topic "in" is already the source of KSTREAM-SOURCE-0000000000`},
		{"global table of a stream's topic", func(b *streams.Builder) {
			streams.Stream(b, "in", str, str)
			streams.GlobalTable(b, "in", str, str)
		}, `topic "in" is already the source of KSTREAM-SOURCE-0000000000`},
		{"global table store name taken", func(b *streams.Builder) {
			streams.Table(b, "a", str, str, streams.Materialized("s"))
			streams.GlobalTable(b, "b", str, str, streams.Materialized("s"))
		}, `duplicate store name "s"`},
		{"duplicate branch", func(b *streams.Builder) {
			streams.Stream(b, "in", str, str).Split(streams.Named("x")).
				Branch(func(_, _ string) bool { return true }, "a").
				Branch(func(_, _ string) bool { return true }, "a").NoDefault()
		}, `duplicate processor name "x-a"`},
		{"branch after the default", func(b *streams.Builder) {
			sp := streams.Stream(b, "in", str, str).Split(streams.Named("x"))
			sp.Default("rest")
			sp.Branch(func(_, _ string) bool { return true }, "late")
		}, `split x: Branch after Default or NoDefault`},
		{"table re-grouped without serdes", func(b *streams.Builder) {
			streams.GroupTableBy(streams.Table(b, "in", str, str), func(k, v string) (string, string) { return v, k }, nil, str).Count()
		}, `the serdes of the new key and value are required`},
		{"foreign-key join of a table without value serde", func(b *streams.Builder) {
			left := streams.Table(b, "orders", str, str)
			right := streams.MapTableValues(streams.Table(b, "products", str, str), func(_, v string) int { return len(v) }, nil)
			streams.JoinFK(left, right, func(o string) string { return o }, func(o string, n int) string { return o }, str, streams.Named("j"))
		}, `j: both tables' key and value serdes are required`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := streams.NewBuilder()
			tc.build(b)
			_, err := b.Build()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestStreamTableJoinRunsInTheTablesSubTopology(t *testing.T) {
	b := streams.NewBuilder()
	str := statestore.String{}
	orders := streams.Stream(b, "orders", str, str)
	customers := streams.Table(b, "customers", str, str)
	streams.JoinTable(orders, customers, func(o, c string) string { return o + c }, str, streams.Named("enrich")).To("out", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d := topo.Describe()
	// One sub-topology holds both sources: its tasks own the same partition of each topic.
	if strings.Count(d, "Sub-topology:") != 1 || !strings.Contains(d, "topics: [orders]") || !strings.Contains(d, "topics: [customers]") {
		t.Fatalf("want one sub-topology reading orders and customers:\n%s", d)
	}
}
