package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testconnect"
	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func sinkWorker(t testing.TB, tb *testbroker.Broker, offsetsFile string) *connect.Runner {
	t.Helper()
	return testconnect.StartStandalone(t, tb.Addr(), nil, offsetsFile, nil)
}

// sinkREST sends a request to the worker and returns the status and body.
func sinkREST(t testing.TB, w *connect.Runner, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+w.Addr+path, strings.NewReader(body))
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

// sinkCreate posts a connector with JSON converters without schemas unless config says
// otherwise.
func sinkCreate(t testing.TB, w *connect.Runner, name string, config map[string]string) {
	t.Helper()
	full := map[string]string{
		"key.converter":                  connect.JSONConverterClass,
		"key.converter.schemas.enable":   "false",
		"value.converter":                connect.JSONConverterClass,
		"value.converter.schemas.enable": "false",
	}
	for k, v := range config {
		full[k] = v
	}
	body, _ := json.Marshal(map[string]any{"name": name, "config": full})
	if code, resp := sinkREST(t, w, "POST", "/connectors", string(body)); code != http.StatusCreated {
		t.Fatalf("POST /connectors %s: %d %s", name, code, resp)
	}
}

type sinkTaskStatus struct {
	State string `json:"state"`
	Trace string `json:"trace"`
}

type sinkConnectorStatus struct {
	Connector sinkTaskStatus   `json:"connector"`
	Tasks     []sinkTaskStatus `json:"tasks"`
}

func sinkStatus(t testing.TB, w *connect.Runner, name string) sinkConnectorStatus {
	t.Helper()
	code, body := sinkREST(t, w, "GET", "/connectors/"+name+"/status", "")
	var s sinkConnectorStatus
	if code != http.StatusOK || json.Unmarshal([]byte(body), &s) != nil {
		t.Fatalf("GET status of %s: %d %s", name, code, body)
	}
	return s
}

// sinkWaitFailed waits for task 0 to be FAILED and returns its trace.
func sinkWaitFailed(t testing.TB, w *connect.Runner, name string) string {
	t.Helper()
	var s sinkConnectorStatus
	testutil.CheckFor(t, 20*time.Second, 25*time.Millisecond, func() error {
		s = sinkStatus(t, w, name)
		if !(s.Connector.State == "FAILED" || (len(s.Tasks) > 0 && s.Tasks[0].State == "FAILED")) {
			return errors.New(name + " task 0 FAILED")
		}
		return nil
	})
	if s.Connector.State == "FAILED" {
		return s.Connector.Trace
	}
	return s.Tasks[0].Trace
}

func sinkKafka(t testing.TB, tb *testbroker.Broker) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func sinkTopics(t testing.TB, tb *testbroker.Broker, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(sinkKafka(t, tb)).CreateTopics(ctx, 1, 1, nil, topics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topics %v: %v", topics, err)
	}
}

// sinkKV is a record to produce; a value of sinkTombstone is produced as a tombstone.
type sinkKV struct{ key, value string }

const sinkTombstone = "\x00tombstone"

// sinkProduce writes records to topic 0 with one ProduceSync, so they arrive in one batch.
func sinkProduce(t testing.TB, tb *testbroker.Broker, topic string, recs ...sinkKV) {
	t.Helper()
	cl := sinkKafka(t, tb)
	var rs []*kgo.Record
	for _, r := range recs {
		kr := &kgo.Record{Topic: topic, Partition: 0}
		if r.key != "" {
			kr.Key = []byte(r.key)
		}
		if r.value != sinkTombstone {
			kr.Value = []byte(r.value)
		}
		rs = append(rs, kr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// sinkCommitted returns the connector group's committed offset of topic partition 0, or -1.
func sinkCommitted(t testing.TB, tb *testbroker.Broker, connector, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(sinkKafka(t, tb)).FetchOffsets(ctx, "connect-"+connector)
	if err != nil {
		t.Fatalf("fetch offsets of connect-%s: %v", connector, err)
	}
	if o, ok := offs.Lookup(topic, 0); ok && o.Err == nil {
		return o.At
	}
	return -1
}

// sinkRows runs a query and renders each row as its values joined by "|" (NULL as "∅").
func sinkRows(t testing.TB, pg *testpg.Server, db, query string) []string {
	t.Helper()
	out := sinkTryRows(pg, db, query)
	if len(out) == 1 && strings.HasPrefix(out[0], "error: ") {
		t.Fatalf("%s: %s", query, out[0])
	}
	return out
}

// sinkWaitRows waits until query returns exactly want.
func sinkWaitRows(t testing.TB, pg *testpg.Server, db, query string, want ...string) {
	t.Helper()
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if got := sinkTryRows(pg, db, query); strings.Join(got, "\n") != strings.Join(want, "\n") {
			return fmt.Errorf("%s:\ngot  %q\nwant %q", query, got, want)
		}
		return nil
	})
}

// sinkTryRows is sinkRows without failing: a missing table reads as no rows.
func sinkTryRows(pg *testpg.Server, db, query string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.URL(db))
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	defer conn.Close(ctx)
	rs, err := conn.Query(ctx, query)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		vals, _ := rs.Values()
		parts := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				parts[i] = "∅"
			} else if tm, ok := v.(time.Time); ok {
				parts[i] = tm.UTC().Format(time.RFC3339Nano)
			} else {
				parts[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rs.Err(); err != nil {
		return []string{"error: " + err.Error()}
	}
	return out
}
