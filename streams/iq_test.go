package streams_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// serveQueries starts an HTTP listener for an instance's interactive queries and returns its
// host:port (the instance's application server) and a function that mounts the App's handler.
func serveQueries(t *testing.T) (string, func(*streams.App)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &swappable{}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), func(a *streams.App) { h.set(a.Handler("")) }
}

type swappable struct {
	mu chan http.Handler
}

func (s *swappable) set(h http.Handler) {
	if s.mu == nil {
		s.mu = make(chan http.Handler, 1)
	} else {
		<-s.mu
	}
	s.mu <- h
}

func (s *swappable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.mu == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	h := <-s.mu
	s.mu <- h
	h.ServeHTTP(w, r)
}

type queryMetadata struct {
	Hosts map[string][]string `json:"hosts"`
}

func metadata(t *testing.T, endpoint string) queryMetadata {
	t.Helper()
	resp, err := http.Get("http://" + endpoint + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md queryMetadata
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	return md
}

func TestInteractiveQueriesAnswerEveryKeyFromAnyInstance(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "lines", 3)
	createTopic(t, tb.Addr(), "word-counts", 3)
	want := map[string]int64{}
	produceLines(t, tb.Addr(), 0, 90, want)

	epA, mountA := serveQueries(t)
	epB, mountB := serveQueries(t)
	cfg := func(ep string) streams.Config {
		return streams.Config{ApplicationID: "iq", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir(),
			ApplicationServer: ep, ClientOptions: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)}}
	}
	a := startApp(t, wordCount(t), cfg(epA))
	mountA(a)
	b := startApp(t, wordCount(t), cfg(epB))
	mountB(b)
	waitForMembers(t, tb.Addr(), "iq", 2)
	readLatest(t, nil, tb.Addr(), "word-counts", statestore.Int64{}, want)

	// NB: the group may be stable a moment before A has read its SyncGroup answer.
	waitFor(t, func() error {
		if md := metadata(t, epA); len(md.Hosts) != 2 || len(md.Hosts[epA])+len(md.Hosts[epB]) != 6 {
			return fmt.Errorf("metadata hosts %v, want 6 tasks over %s and %s", md.Hosts, epA, epB)
		}
		return nil
	})
	// Every word, asked of instance A, comes back with its count: directly when A runs the
	// word's task, through a redirect to B otherwise.
	local, remote := 0, 0
	for word, n := range want {
		waitFor(t, func() error {
			resp, err := http.Get("http://" + epA + "/stores/counts/keys/" + url.PathEscape(word))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %q: %d %s", word, resp.StatusCode, body)
			}
			got, err := statestore.Int64{}.Deserialize(body)
			if err != nil || got != n {
				t.Fatalf("count of %q = %d (%v), want %d", word, got, err, n)
			}
			if resp.Request.URL.Host == epA {
				local++
			} else {
				remote++
			}
			return nil
		})
	}
	if local == 0 || remote == 0 {
		t.Errorf("answered %d keys locally and %d through a redirect: want both", local, remote)
	}
	// The typed query answers local keys and names the owner of the others.
	for word, n := range want {
		got, ok, err := streams.Query(a, "counts", word, statestore.String{}, statestore.Int64{})
		var nl *streams.NotLocalError
		switch {
		case errors.As(err, &nl):
			if nl.Owner != epB {
				t.Errorf("Query(%q) on A: owner %q, want %s", word, nl.Owner, epB)
			}
		case err != nil || !ok || got != n:
			t.Errorf("Query(%q) on A = %d, %v, %v; want %d", word, got, ok, err, n)
		}
	}
	resp, err := http.Get("http://" + epA + "/stores/no-such-store/keys/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown store: status %d, want 404", resp.StatusCode)
	}
}

func TestARejoiningInstanceGetsItsTasksBackAndRestoresOnlyTheTail(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "lines", 3)
	createTopic(t, tb.Addr(), "word-counts", 3)
	want := map[string]int64{}
	produceLines(t, tb.Addr(), 0, 300, want)
	epA, mountA := serveQueries(t)
	epB, mountB := serveQueries(t)
	dirB := t.TempDir()
	cfg := func(ep, dir string) streams.Config {
		return streams.Config{ApplicationID: "sticky", BootstrapServers: []string{tb.Addr()}, StateDir: dir,
			ApplicationServer: ep, ClientOptions: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)}}
	}
	a := startApp(t, wordCount(t), cfg(epA, t.TempDir()))
	mountA(a)
	b := startApp(t, wordCount(t), cfg(epB, dirB))
	mountB(b)
	waitForMembers(t, tb.Addr(), "sticky", 2)
	readLatest(t, nil, tb.Addr(), "word-counts", statestore.Int64{}, want)
	// B's stateful tasks (sub-topology 1, the counts; sub-topology 0 keeps no state).
	stateful := func(tasks []string) []string {
		var out []string
		for _, id := range tasks {
			if strings.HasPrefix(id, "1_") {
				out = append(out, id)
			}
		}
		slices.Sort(out)
		return out
	}
	if len(stateful(metadata(t, epA).Hosts[epB])) == 0 {
		t.Fatal("B runs no stateful task: the test proves nothing")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// The tasks whose stores B keeps on disk (those it ran in any generation).
	var before []string
	dirs, _ := filepath.Glob(filepath.Join(dirB, "sticky", "counts", "*"))
	for _, d := range dirs {
		before = append(before, "1_"+filepath.Base(d))
	}
	waitForMembers(t, tb.Addr(), "sticky", 1)
	produceLines(t, tb.Addr(), 300, 30, want)
	readLatest(t, nil, tb.Addr(), "word-counts", statestore.Int64{}, want)

	b = startApp(t, wordCount(t), cfg(epB, dirB))
	mountB(b)
	waitForMembers(t, tb.Addr(), "sticky", 2)
	// B gets back the stateful tasks whose stores it kept, as many as its share allows: the
	// counts per member may differ by one from before, so B's tasks and its old ones overlap in
	// min(len(before), len(after)) tasks.
	waitFor(t, func() error {
		after := stateful(metadata(t, epB).Hosts[epB])
		overlap := 0
		for _, id := range after {
			if slices.Contains(before, id) {
				overlap++
			}
		}
		if len(after) == 0 || overlap != min(len(before), len(after)) {
			return fmt.Errorf("B has stores of tasks %v on disk and runs %v after rejoining: want it to get back those it has state for", before, after)
		}
		return nil
	})
	produceLines(t, tb.Addr(), 330, 30, want)
	readLatest(t, nil, tb.Addr(), "word-counts", statestore.Int64{}, want)
	var total int64
	for _, n := range want {
		total += n
	}
	if restored := b.Stats().RecordsRestored; restored*10 > total {
		t.Errorf("rejoined B restored %d changelog records, want only the tail (≪ %d words counted)", restored, total)
	}
}
