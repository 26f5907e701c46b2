package transforms_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	_ "github.com/gregor-streams/gregor/connect/transforms"
	_ "github.com/gregor-streams/gregor/connectors/file"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testconnect"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func startWorker(t *testing.T, tb *testbroker.Broker) *connect.Runner {
	t.Helper()
	return testconnect.StartStandalone(t, tb.Addr(), nil, "", nil)
}

func request(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func createTopic(t *testing.T, tb *testbroker.Broker, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
}

// TestFileSourceRoutedAndHoistedThenExtractedBySink runs file source → RegexRouter + HoistField$Value
// → Kafka → ExtractField$Value → file sink, and checks both the topic's records and the sink file.
func TestFileSourceRoutedAndHoistedThenExtractedBySink(t *testing.T) {
	tb := testbroker.Start(t)
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	var want bytes.Buffer
	for i := range 50 {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if err := os.WriteFile(src, want.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	createTopic(t, tb, "routed-lines")
	w := startWorker(t, tb)
	base := "http://" + w.Addr
	schemaless := `"value.converter":"org.apache.kafka.connect.json.JsonConverter","value.converter.schemas.enable":"false"`
	if code, body := request(t, "POST", base+"/connectors", fmt.Sprintf(`{"name":"src","config":{"connector.class":"FileStreamSource","file":%q,"topic":"lines",%s,
		"transforms":"route,hoist",
		"transforms.route.type":"org.apache.kafka.connect.transforms.RegexRouter","transforms.route.regex":"(.*)","transforms.route.replacement":"routed-$1",
		"transforms.hoist.type":"org.apache.kafka.connect.transforms.HoistField$Value","transforms.hoist.field":"line"}}`, src, schemaless)); code != 201 {
		t.Fatalf("create source: %d %s", code, body)
	}
	if code, body := request(t, "POST", base+"/connectors", fmt.Sprintf(`{"name":"sink","config":{"connector.class":"FileStreamSink","file":%q,"topics":"routed-lines",%s,
		"transforms":"extract,skip","predicates":"isTomb",
		"transforms.extract.type":"ExtractField$Value","transforms.extract.field":"line",
		"transforms.skip.type":"Filter","transforms.skip.predicate":"isTomb",
		"predicates.isTomb.type":"org.apache.kafka.connect.transforms.predicates.RecordIsTombstone"}}`, dst, schemaless)); code != 201 {
		t.Fatalf("create sink: %d %s", code, body)
	}
	// A sink whose chain drops every record (and renames first) must still commit the consumed offsets.
	if code, body := request(t, "POST", base+"/connectors", fmt.Sprintf(`{"name":"dropper","config":{"connector.class":"FileStreamSink","file":%q,"topics":"routed-lines",%s,
		"transforms":"rename,drop","transforms.rename.type":"RegexRouter","transforms.rename.regex":".*","transforms.rename.replacement":"elsewhere",
		"transforms.drop.type":"Filter"}}`, filepath.Join(dir, "dropped.txt"), schemaless)); code != 201 {
		t.Fatalf("create dropper: %d %s", code, body)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumeTopics("routed-lines"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for len(got) < 50 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if len(got) != 50 {
		t.Fatalf("got %d records on routed-lines", len(got))
	}
	for i, v := range got {
		var m map[string]any
		if err := json.Unmarshal([]byte(v), &m); err != nil || m["line"] != fmt.Sprintf("line %d", i) || len(m) != 1 {
			t.Fatalf("record %d = %s", i, v)
		}
	}

	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		if out, _ := os.ReadFile(dst); !bytes.Equal(out, want.Bytes()) {
			return fmt.Errorf("sink file = %q, want %q", out, want.Bytes())
		}
		return nil
	})

	adm := kadm.NewClient(cl)
	testutil.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		offs, err := adm.FetchOffsets(context.Background(), "connect-dropper")
		if o, ok := offs.Lookup("routed-lines", 0); err != nil || !ok || o.At != 50 {
			return fmt.Errorf("dropper offsets = %v %v, want routed-lines/0 at 50", offs, err)
		}
		return nil
	})
	if data, _ := os.ReadFile(filepath.Join(dir, "dropped.txt")); len(data) != 0 {
		t.Fatalf("dropper wrote %q", data)
	}
}

func TestInvalidTransformConfigIs400AndCreatesNothing(t *testing.T) {
	tb := testbroker.Start(t)
	w := startWorker(t, tb)
	base := "http://" + w.Addr
	cases := []struct{ name, config, want string }{
		{"bad regex", `"transforms":"r","transforms.r.type":"RegexRouter","transforms.r.regex":"(","transforms.r.replacement":"x"`, "transforms.r.regex"},
		{"unknown class", `"transforms":"r","transforms.r.type":"com.example.Nope"`, "com.example.Nope"},
		{"missing type", `"transforms":"r"`, "transforms.r.type"},
		{"missing required key", `"transforms":"h","transforms.h.type":"HoistField$Value"`, "transforms.h.field"},
		{"unknown predicate", `"transforms":"f","transforms.f.type":"Filter","transforms.f.predicate":"p"`, "transforms.f.predicate"},
		{"bad predicate", `"transforms":"f","transforms.f.type":"Filter","transforms.f.predicate":"p","predicates":"p","predicates.p.type":"TopicNameMatches"`, "predicates.p.pattern"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"name":"a","config":{"connector.class":"FileStreamSource","file":"/dev/null","topic":"x",%s}}`, tc.config)
			code, resp := request(t, "POST", base+"/connectors", body)
			if code != 400 || !strings.Contains(resp, tc.want) {
				t.Fatalf("POST = %d %s; want 400 naming %s", code, resp, tc.want)
			}
			// The validate endpoint reports the same error on the transform's key.
			code, resp = request(t, "PUT", base+"/connector-plugins/FileStreamSource/config/validate",
				fmt.Sprintf(`{"connector.class":"FileStreamSource","name":"a","file":"/dev/null","topic":"x",%s}`, tc.config))
			if code != 200 || !strings.Contains(resp, tc.want) || strings.Contains(resp, `"error_count":0`) {
				t.Fatalf("validate = %d %s", code, resp)
			}
		})
	}
	if code, resp := request(t, "GET", base+"/connectors", ""); code != 200 || strings.TrimSpace(resp) != "[]" {
		t.Fatalf("connectors after bad requests = %d %s", code, resp)
	}
}

// TestSourceOffsetsAdvancePastDroppedRecords checks that records a source chain drops still move the
// source offset forward, so a restart does not re-read them.
func TestSourceOffsetsAdvancePastDroppedRecords(t *testing.T) {
	tb := testbroker.Start(t)
	src := filepath.Join(t.TempDir(), "in.txt")
	data := []byte("a\nbb\nccc\n")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, tb)
	base := "http://" + w.Addr
	if code, body := request(t, "POST", base+"/connectors", fmt.Sprintf(`{"name":"drop-src","config":{"connector.class":"FileStreamSource","file":%q,"topic":"dropped",
		"transforms":"f","transforms.f.type":"Filter","transforms.f.predicate":"all","predicates":"all",
		"predicates.all.type":"TopicNameMatches","predicates.all.pattern":"drop.*"}}`, src)); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	want := fmt.Sprintf(`"position":%d`, len(data))
	testutil.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		if _, body := request(t, "GET", base+"/connectors/drop-src/offsets", ""); !strings.Contains(body, want) {
			return fmt.Errorf("offsets = %s, want %s", body, want)
		}
		return nil
	})
}

// TestPluginListIncludesTransformsAndPredicates checks GET /connector-plugins?connectorsOnly=false
// against Kafka's entries: {"class","type":"transformation"|"predicate"|"converter","version"}, keyed
// transforms listed as their $Key and $Value classes; the default stays connectors only.
func TestPluginListIncludesTransformsAndPredicates(t *testing.T) {
	tb := testbroker.Start(t)
	w := startWorker(t, tb)
	base := "http://" + w.Addr
	type plugin struct{ Class, Type, Version string }
	list := func(query string) []plugin {
		code, body := request(t, "GET", base+"/connector-plugins"+query, "")
		var out []plugin
		if err := json.Unmarshal([]byte(body), &out); code != 200 || err != nil {
			t.Fatalf("GET /connector-plugins%s = %d %s", query, code, body)
		}
		return out
	}
	for _, p := range list("") {
		if p.Type != "source" && p.Type != "sink" {
			t.Errorf("default listing has a %s: %+v", p.Type, p)
		}
	}
	byClass := map[string]plugin{}
	for _, p := range list("?connectorsOnly=false") {
		if p.Version == "" {
			t.Errorf("%s has no version", p.Class)
		}
		byClass[p.Class] = p
	}
	for class, typ := range map[string]string{
		"org.apache.kafka.connect.file.FileStreamSourceConnector":          "source",
		"org.apache.kafka.connect.transforms.Cast$Value":                   "transformation",
		"org.apache.kafka.connect.transforms.TimestampConverter$Key":       "transformation",
		"org.apache.kafka.connect.transforms.RegexRouter":                  "transformation",
		"org.apache.kafka.connect.transforms.Filter":                       "transformation",
		"org.apache.kafka.connect.transforms.predicates.TopicNameMatches":  "predicate",
		"org.apache.kafka.connect.transforms.predicates.HasHeaderKey":      "predicate",
		"org.apache.kafka.connect.transforms.predicates.RecordIsTombstone": "predicate",
		"org.apache.kafka.connect.json.JsonConverter":                      "converter",
		"org.apache.kafka.connect.storage.StringConverter":                 "converter",
	} {
		if got := byClass[class].Type; got != typ {
			t.Errorf("%s: type %q, want %q", class, got, typ)
		}
	}
	if _, ok := byClass["org.apache.kafka.connect.transforms.Cast"]; ok {
		t.Error("keyed transform Cast listed without $Key/$Value")
	}
}
