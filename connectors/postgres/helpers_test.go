package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	_ "github.com/gregor-streams/gregor/connectors/postgres"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testconnect"
	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMain(m *testing.M) {
	if os.Getenv(childWorkerEnv) != "" {
		runChildWorker()
		return
	}
	code := m.Run()
	testpg.StopShared()
	os.Exit(code)
}

func workerProps(brokerAddr, offsetsFile string) map[string]string {
	return map[string]string{
		"bootstrap.servers":              brokerAddr,
		"listeners":                      "http://127.0.0.1:0",
		"offset.storage.file.filename":   offsetsFile,
		"offset.flush.interval.ms":       "200",
		"key.converter":                  "org.apache.kafka.connect.json.JsonConverter",
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"key.converter.schemas.enable":   "true",
		"value.converter.schemas.enable": "true",
	}
}

func startWorker(t testing.TB, tb *testbroker.Broker, offsetsFile string, extra ...string) *connect.Runner {
	t.Helper()
	props := workerProps(tb.Addr(), offsetsFile)
	for i := 0; i+1 < len(extra); i += 2 {
		props[extra[i]] = extra[i+1]
	}
	return testconnect.StartStandalone(t, tb.Addr(), nil, offsetsFile, props)
}

// cdcConfig is a connector config for a test database.
func cdcConfig(pg *testpg.Server, db, prefix string, extra ...string) map[string]string {
	cfg := map[string]string{
		"connector.class":   "io.debezium.connector.postgresql.PostgresConnector",
		"database.hostname": pg.Host,
		"database.port":     fmt.Sprint(pg.Port),
		"database.user":     pg.User,
		"database.dbname":   db,
		"topic.prefix":      prefix,
		"slot.name":         "slot_" + db,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		cfg[extra[i]] = extra[i+1]
	}
	return cfg
}

func createConnector(t testing.TB, addr, name string, cfg map[string]string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "config": cfg})
	resp, err := http.Post("http://"+addr+"/connectors", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /connectors: %d %s", resp.StatusCode, data)
	}
}

type taskStatus struct {
	State string `json:"state"`
	Trace string `json:"trace"`
}

func connectorStatus(t testing.TB, addr, name string) (connState string, tasks []taskStatus) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/connectors/" + name + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Connector taskStatus   `json:"connector"`
		Tasks     []taskStatus `json:"tasks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("status of %s: %v", name, err)
	}
	return st.Connector.State, st.Tasks
}

func waitTaskState(t testing.TB, addr, name, state string, timeout time.Duration) taskStatus {
	t.Helper()
	var last taskStatus
	testutil.CheckFor(t, timeout, 25*time.Millisecond, func() error {
		_, tasks := connectorStatus(t, addr, name)
		if len(tasks) == 0 {
			return fmt.Errorf("task of %s to be %s (last %+v)", name, state, &last)
		}
		last = tasks[0]
		if last.State != state {
			return fmt.Errorf("task of %s to be %s (last %+v)", name, state, &last)
		}
		return nil
	})
	return last
}

// event is a change event as a consumer sees it: the JSON converter's schema and payload parts.
type event struct {
	Topic            string
	Offset           int64
	Key              map[string]any // key payload; nil for a null key
	Value            map[string]any // value payload; nil for a tombstone
	KeyRaw, ValueRaw []byte
}

func (e event) op() string {
	if e.Value == nil {
		return "tombstone"
	}
	s, _ := e.Value["op"].(string)
	return s
}

func decodeEnvelope(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	if raw == nil {
		return nil
	}
	var env struct {
		Schema  map[string]any `json:"schema"`
		Payload map[string]any `json:"payload"`
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&env); err != nil {
		t.Fatalf("record %q is not a JSON envelope: %v", raw, err)
	}
	return env.Payload
}

// consumer reads topics from the start, accumulating events.
type consumer struct {
	t      testing.TB
	cl     *kgo.Client
	events []event
	byTop  map[string]int
}

func newConsumer(t testing.TB, tb *testbroker.Broker, topics ...string) *consumer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &consumer{t: t, cl: cl, byTop: map[string]int{}}
}

// poll fetches once (bounded) and returns how many events arrived.
func (c *consumer) poll(wait time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	fs := c.cl.PollFetches(ctx)
	n := 0
	fs.EachRecord(func(r *kgo.Record) {
		e := event{Topic: r.Topic, Offset: r.Offset, KeyRaw: r.Key, ValueRaw: r.Value}
		e.Key = decodeEnvelope(c.t, r.Key)
		e.Value = decodeEnvelope(c.t, r.Value)
		c.events = append(c.events, e)
		c.byTop[r.Topic]++
		n++
	})
	return n
}

// waitFor polls until pred holds for the events so far, or fails after timeout.
func (c *consumer) waitFor(timeout time.Duration, what string, pred func([]event) bool) {
	c.t.Helper()
	// NB: the check itself waits in poll (up to 200ms for records), so the interval is short.
	testutil.CheckFor(c.t, timeout, time.Millisecond, func() error {
		if pred(c.events) {
			return nil
		}
		c.poll(200 * time.Millisecond)
		return fmt.Errorf("%s (have %d events: %v)", what, len(c.events), c.byTop)
	})
}

// num converts a JSON number payload field to int64 (or -1 if absent).
func num(v any) int64 {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return -1
		}
		return i
	}
	return -1
}

func str(v any) string {
	if v == nil {
		return "<nil>"
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
