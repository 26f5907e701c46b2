package console

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

// appRecord is testdata/streams_app.json as instance id, as obs-streams' publisher writes it.
func appRecord(t testing.TB, instance string) *kgo.Record {
	t.Helper()
	data, err := os.ReadFile("testdata/streams_app.json")
	if err != nil {
		t.Fatal(err)
	}
	var inst AppInstance
	if err := json.Unmarshal(data, &inst); err != nil {
		t.Fatal(err)
	}
	inst.InstanceID, inst.UpdatedMs = instance, time.Now().UnixMilli()
	value, _ := json.Marshal(inst)
	return &kgo.Record{Topic: StreamsAppsTopic, Key: []byte(inst.ApplicationID + "/" + instance), Value: value}
}

func TestStreamsAppsMergeInstancesIntoOneGraph(t *testing.T) {
	_, cl, adm, base := brokerAndConsole(t, Options{})
	compact := "compact"
	createTopic(t, adm, StreamsAppsTopic, 1, map[string]*string{"cleanup.policy": &compact})
	produce(t, cl, appRecord(t, "a"), appRecord(t, "b"),
		&kgo.Record{Topic: StreamsAppsTopic, Key: []byte("broken/x"), Value: []byte("{not json")})

	var graph map[string]any
	testutil.CheckFor(t, 15*time.Second, 100*time.Millisecond, func() error {
		st, body := call(t, "GET", base+"/api/streams/order-totals", nil)
		if st != 200 {
			return fmt.Errorf("%d %v", st, body)
		}
		if n := len(body["instances"].([]any)); n != 2 {
			return fmt.Errorf("%d instances", n)
		}
		graph = body["graph"].(map[string]any)
		return nil
	})
	nodes, edges := graph["nodes"].([]any), graph["edges"].([]any)
	// 5 processor nodes, 3 topics (input, repartition, output), 1 store, 1 changelog topic.
	if len(nodes) != 10 || len(edges) != 9 {
		t.Fatalf("graph has %d nodes and %d edges, want 10 and 9: %v", len(nodes), len(edges), graph)
	}
	kinds := map[string]int{}
	for _, n := range nodes {
		m := n.(map[string]any)
		kinds[m["kind"].(string)]++
		if m["label"] == "KSTREAM-SOURCE-0000000000" && (m["processRate"].(float64) != 21 || m["lag"].(float64) != 6) {
			t.Errorf("merged source metrics %v, want rate 21 (10.5 twice) and lag 6", m)
		}
	}
	if fmt.Sprint(kinds) != "map[changelog:1 processor:1 repartition:1 sink:2 source:2 store:1 topic:2]" {
		t.Errorf("node kinds %v", kinds)
	}
	// A tombstone stops an instance; the last one gone, the app is gone.
	produce(t, cl, &kgo.Record{Topic: StreamsAppsTopic, Key: []byte("order-totals/a")})
	testutil.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		_, body := call(t, "GET", base+"/api/streams", nil)
		apps := body["applications"].([]any)
		if len(apps) != 1 || apps[0].(map[string]any)["instances"].(float64) != 1 {
			return fmt.Errorf("apps %v", apps)
		}
		return nil
	})
	produce(t, cl, &kgo.Record{Topic: StreamsAppsTopic, Key: []byte("order-totals/b")})
	testutil.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		st, body := call(t, "GET", base+"/api/streams/order-totals", nil)
		if st != 404 || !strings.Contains(errText(body), "no running instance") {
			return fmt.Errorf("%d %v", st, body)
		}
		return nil
	})
}
