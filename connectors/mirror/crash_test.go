package mirror_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/connectors/mirror"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

// workerEnv carries a child worker's setup: JSON of childSetup.
const workerEnv = "GREGOR_MIRROR_TEST_WORKER"

type childSetup struct {
	Worker     map[string]string
	Connectors map[string]map[string]string
}

func TestMain(m *testing.M) {
	if env := os.Getenv(workerEnv); env != "" {
		os.Exit(runChildWorker(env))
	}
	os.Exit(m.Run())
}

// runChildWorker is the mirror worker process the crash test kills with SIGKILL.
func runChildWorker(env string) int {
	var setup childSetup
	if err := json.Unmarshal([]byte(env), &setup); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	r, err := connect.RunStandalone(context.Background(), setup.Worker, connect.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	for name, cfg := range setup.Connectors {
		cfg["name"] = name
		if _, _, err := r.Herder.PutConnectorConfig(name, cfg, false, connect.TargetStarted); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 1
		}
	}
	fmt.Println("ready")
	select {} // until SIGKILL
}

// startChild starts a mirror worker process and waits until it runs its connectors.
func startChild(t *testing.T, setup childSetup) *exec.Cmd {
	t.Helper()
	env, err := json.Marshal(setup)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"="+string(env))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("worker did not start: %q %v", line, err)
	}
	return cmd
}

func TestMirrorWorkerKilledMidStreamLosesNothingAfterRestart(t *testing.T) {
	const total, batch = 30000, 500
	a, b := testbroker.Start(t), testbroker.Start(t)
	createTopic(t, a, "events", 3, nil)
	// The source keeps receiving records while the worker runs, crashes and restarts.
	produced := make(chan error, 1)
	go func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(a.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			produced <- err
			return
		}
		defer cl.Close()
		for from := 0; from < total; from += batch {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := cl.ProduceSync(ctx, testRecords("events", 3, batch, from)...).FirstErr()
			cancel()
			if err != nil {
				produced <- err
				return
			}
			time.Sleep(5 * time.Millisecond) // NB: pacing, so the crash falls mid-stream
		}
		produced <- nil
	}()
	offsetsFile := filepath.Join(t.TempDir(), "connect.offsets")
	src := flowConfig("A", a, "B", b, map[string]string{"topics": "events", "connector.class": mirror.SourceClass})
	setup := childSetup{
		Worker: map[string]string{
			"bootstrap.servers":            b.Addr(),
			"listeners":                    "http://127.0.0.1:0",
			"offset.storage.file.filename": offsetsFile,
			"offset.flush.interval.ms":     "200",
		},
		Connectors: map[string]map[string]string{"mm2-source": src},
	}
	worker := startChild(t, setup)

	// Kill it mid-stream: once it flushed source offsets and copied some records.
	counter := client(t, b, kgo.ConsumeTopics("A.events"), kgo.FetchMaxWait(50*time.Millisecond),
		kgo.MetadataMinAge(50*time.Millisecond), kgo.MetadataMaxAge(200*time.Millisecond))
	seen := 0
	testutil.CheckFor(t, waitLong, time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		seen += counter.PollFetches(ctx).NumRecords()
		if seen < 2000 {
			return fmt.Errorf("%d records on B", seen)
		}
		if st, err := os.Stat(offsetsFile); err != nil || st.Size() == 0 {
			return fmt.Errorf("no source offsets flushed yet (%v)", err)
		}
		return nil
	})
	if err := worker.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = worker.Process.Wait()
	t.Logf("killed the mirror worker with at least %d of %d records copied", seen, total)
	startChild(t, setup)
	if err := <-produced; err != nil {
		t.Fatalf("producing to the source: %v", err)
	}

	// Everything arrives; per partition the newest records come last, so once every id is there,
	// every duplicate is too.
	reader := client(t, b, kgo.ConsumeTopics("A.events"), kgo.FetchMaxWait(50*time.Millisecond))
	got, records := map[int]int{}, 0
	testutil.CheckFor(t, waitLong, time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		reader.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[recordID(t, r)]++; records++ })
		if len(got) < total {
			return fmt.Errorf("%d of %d distinct records on B", len(got), total)
		}
		return nil
	})
	lost := 0
	for id := range total {
		if got[id] == 0 {
			lost++
		}
	}
	t.Logf("after the crash and restart: %d records on B, %d distinct, lost %d, duplicates %d", records, len(got), lost, records-len(got))
	if lost != 0 || len(got) != total {
		t.Fatalf("lost %d records; %d distinct ids, want %d", lost, len(got), total)
	}
}
