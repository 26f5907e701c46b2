package streams_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
)

// dedupTopology drops repeated clicks of a user on a page (a Processor API store), then counts
// clicks per page (a repartition, and the DSL's store).
func dedupTopology(t *testing.T) *streams.Topology {
	b := streams.NewBuilder()
	streams.AddStore(b, "seen")
	clicks := streams.Stream(b, "clicks", statestore.String{}, statestore.String{})
	fresh := streams.ProcessValues(clicks, func() streams.Processor[string, string, string, string] {
		return streams.ProcessorFunc[string, string, string, string](func(ctx streams.ProcessorContext[string, string], r streams.Record[string, string]) error {
			seen, err := ctx.KeyValueStore("seen")
			if err != nil {
				return err
			}
			key := []byte(r.Key + "|" + r.Value)
			if _, dup, err := seen.Get(key); err != nil || dup {
				return err
			}
			if err := seen.Put(key, nil); err != nil {
				return err
			}
			return ctx.Forward(r)
		})
	}, statestore.String{}, streams.Named("dedup"), streams.ConnectStores("seen"))
	streams.GroupBy(fresh, func(_, page string) string { return page }, statestore.String{}, streams.Named("by-page")).
		Count(streams.Materialized("clicks-per-page")).ToStream().To("page-counts", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// golden compares got with testdata/name, or rewrites the file when GREGOR_UPDATE_GOLDEN is set.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("GREGOR_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with GREGOR_UPDATE_GOLDEN=1 to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs from %s:\n%s", name, path, got)
	}
}

func TestDescribeFormatsOfATopologyWithARepartitionAndStores(t *testing.T) {
	topo := dedupTopology(t)
	golden(t, "describe_dedup.txt", topo.Describe())
	golden(t, "describe_dedup.json", topo.DescribeJSON())
	golden(t, "describe_dedup.dot", topo.DescribeDOT())

	// Graphviz, when installed, must accept the DOT (CI may not have it: the golden file holds).
	if dot, err := exec.LookPath("dot"); err == nil {
		cmd := exec.Command(dot, "-Tsvg")
		cmd.Stdin = strings.NewReader(topo.DescribeDOT())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dot -Tsvg: %v\n%s", err, out)
		}
	}

	var parsed streams.TopologyDescription
	if err := json.Unmarshal([]byte(topo.DescribeJSON()), &parsed); err != nil {
		t.Fatalf("DescribeJSON is not JSON: %v", err)
	}
	if !reflect.DeepEqual(parsed, topo.Description()) {
		t.Fatalf("DescribeJSON does not round-trip to Description:\n%+v\n%+v", parsed, topo.Description())
	}
	if got := topo.SourceTopics(); !slices.Equal(got, []string{"clicks"}) {
		t.Fatalf("SourceTopics = %v, want [clicks] (not the repartition topic)", got)
	}
	if got := topo.SinkTopics(); !slices.Equal(got, []string{"page-counts"}) {
		t.Fatalf("SinkTopics = %v, want [page-counts]", got)
	}
}

func TestProcessorsSharingAStoreRunInOneSubtopology(t *testing.T) {
	b := streams.NewBuilder()
	streams.AddStore(b, "shared")
	noop := func() streams.Processor[string, string, string, string] {
		return streams.ProcessorFunc[string, string, string, string](func(streams.ProcessorContext[string, string], streams.Record[string, string]) error {
			return nil
		})
	}
	streams.Process(streams.Stream(b, "a", statestore.String{}, statestore.String{}), noop, nil, nil, streams.ConnectStores("shared"))
	streams.Process(streams.Stream(b, "b", statestore.String{}, statestore.String{}), noop, nil, nil, streams.ConnectStores("shared"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d := topo.Description()
	if len(d.Subtopologies) != 1 || !slices.Equal(d.Subtopologies[0].Stores, []string{"shared"}) {
		t.Fatalf("sub-topologies = %+v, want one with the store once", d.Subtopologies)
	}
}
