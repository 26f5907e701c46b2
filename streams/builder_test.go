package streams_test

import (
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
)

func TestGeneratedNamesAreStableAndDescribed(t *testing.T) {
	build := func() string {
		b := streams.NewBuilder()
		s := streams.Stream(b, "in", statestore.String{}, statestore.String{})
		up := streams.MapValues(s.Filter(func(_, v string) bool { return v != "" }), func(_, v string) string {
			return strings.ToUpper(v)
		}, statestore.String{}, streams.Named("upper"))
		streams.GroupBy(up, func(_, v string) string { return v }, statestore.String{}).
			Count().ToStream().To("out", nil, nil)
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return topo.Describe()
	}
	want := `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [in])
      --> KSTREAM-FILTER-0000000001
    Processor: KSTREAM-FILTER-0000000001 (stores: [])
      --> upper
      <-- KSTREAM-SOURCE-0000000000
    Processor: upper (stores: [])
      --> KSTREAM-KEY-SELECT-0000000003
      <-- KSTREAM-FILTER-0000000001
    Processor: KSTREAM-KEY-SELECT-0000000003 (stores: [])
      --> KSTREAM-REPARTITION-0000000004-sink
      <-- upper
    Sink: KSTREAM-REPARTITION-0000000004-sink (topic: <application.id>-KSTREAM-REPARTITION-0000000004-repartition)
      --> none
      <-- KSTREAM-KEY-SELECT-0000000003
   Sub-topology: 1
    Source: KSTREAM-REPARTITION-0000000004-source (topics: [<application.id>-KSTREAM-REPARTITION-0000000004-repartition])
      --> KSTREAM-AGGREGATE-0000000005
    Processor: KSTREAM-AGGREGATE-0000000005 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000005])
      --> KTABLE-TOSTREAM-0000000006
      <-- KSTREAM-REPARTITION-0000000004-source
    Processor: KTABLE-TOSTREAM-0000000006 (stores: [])
      --> KSTREAM-SINK-0000000007
      <-- KSTREAM-AGGREGATE-0000000005
    Sink: KSTREAM-SINK-0000000007 (topic: out)
      --> none
      <-- KTABLE-TOSTREAM-0000000006
`
	first := build()
	if first != want {
		t.Fatalf("Describe:\n%s\nwant:\n%s", first, want)
	}
	if again := build(); again != first {
		t.Fatalf("a second build of the same program describes differently:\n%s", again)
	}
}

func TestBuildErrorsNameTheProblem(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(b *streams.Builder)
		want  string
	}{
		{"duplicate processor name", func(b *streams.Builder) {
			s := streams.Stream(b, "in", statestore.String{}, statestore.String{})
			s.Filter(func(_, _ string) bool { return true }, streams.Named("keep"))
			s.Filter(func(_, _ string) bool { return true }, streams.Named("keep"))
		}, `duplicate processor name "keep"`},
		{"duplicate store name", func(b *streams.Builder) {
			g := streams.Stream(b, "in", statestore.String{}, statestore.String{}).GroupByKey()
			g.Count(streams.Materialized("counts"))
			g.Reduce(func(a, v string) string { return a + v }, streams.Materialized("counts"))
		}, `duplicate store name "counts"`},
		{"topic read twice", func(b *streams.Builder) {
			streams.Stream(b, "in", statestore.String{}, statestore.String{})
			streams.Stream(b, "in", statestore.String{}, statestore.Int64{})
		}, `topic "in" is already the source of KSTREAM-SOURCE-0000000000`},
		{"unknown serde at a sink", func(b *streams.Builder) {
			s := streams.Stream(b, "in", statestore.String{}, statestore.String{})
			streams.Map(s, func(k, v string) (string, int) { return k, len(v) }, statestore.String{}, nil).To("out", nil, nil)
		}, `sink KSTREAM-SINK-0000000002 to topic "out": unknown key or value serde of KSTREAM-MAP-0000000001's output`},
		{"unknown serde at a repartition", func(b *streams.Builder) {
			s := streams.Stream(b, "in", statestore.String{}, statestore.String{})
			streams.Map(s, func(k, v string) (string, int) { return v, len(v) }, statestore.String{}, nil).GroupByKey().Count()
		}, `repartition KSTREAM-REPARTITION-0000000002 below KSTREAM-MAP-0000000001: unknown key or value serde`},
		{"no source", func(*streams.Builder) {}, "topology has no source"},
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

func TestUnsupportedProcessingGuaranteeIsRejectedByName(t *testing.T) {
	b := streams.NewBuilder()
	streams.Stream(b, "in", statestore.String{}, statestore.String{}).To("out", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	for guarantee, want := range map[string]string{
		"exactly_once_v2": `"exactly_once_v2" is not supported yet`,
		"at_most_once":    `"at_most_once" is not one of`,
	} {
		_, err := streams.New(topo, streams.Config{ApplicationID: "g", BootstrapServers: []string{"127.0.0.1:1"}, ProcessingGuarantee: guarantee})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ProcessingGuarantee %q: New error %v, want it to say %s", guarantee, err, want)
		}
	}
	if _, err := streams.New(topo, streams.Config{ApplicationID: "g", BootstrapServers: []string{"127.0.0.1:1"}, ProcessingGuarantee: streams.AtLeastOnce}); err != nil {
		t.Errorf("at_least_once rejected: %v", err)
	}
}
