package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// startConsole starts a console against bootstrap on 127.0.0.1:0 and returns its base URL.
func startConsole(t testing.TB, opts Options) (*Server, string) {
	t.Helper()
	if opts.SampleInterval == 0 {
		opts.SampleInterval = 200 * time.Millisecond
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, "http://" + addr
}

// brokerAndConsole starts a broker and a console against it.
func brokerAndConsole(t testing.TB, opts Options) (*testbroker.Broker, *kgo.Client, *kadm.Client, string) {
	t.Helper()
	b := testbroker.Start(t)
	opts.BootstrapServers = []string{b.Addr()}
	_, base := startConsole(t, opts)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return b, cl, kadm.NewClient(cl), base
}

// call does one API request with an optional JSON body (a string is sent as is) and decodes the
// JSON answer into a map.
func call(t testing.TB, method, url string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, url, err, data)
	}
	return resp.StatusCode, out
}

// createTopic creates a topic with n partitions.
func createTopic(t testing.TB, adm *kadm.Client, topic string, n int32, configs map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopic(context.Background(), n, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// produce writes records synchronously.
func produce(t testing.TB, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// wantStatus fails unless the status is want, showing the answer.
func wantStatus(t testing.TB, what string, got int, body map[string]any, want int) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d: %v", what, got, want, body)
	}
}

// errText is the "error" of an answer.
func errText(body map[string]any) string { return fmt.Sprint(body["error"]) }
