package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gregor-streams/gregor/connect"
)

// childWorkerEnv makes the test binary run a standalone worker instead of the tests, so a test
// can kill -9 a worker: the closest thing to a crash. The variable holds the worker properties
// and the connector as JSON; the child prints its REST address on stdout.
const childWorkerEnv = "GREGOR_PGCDC_CHILD_WORKER"

type childSpec struct {
	Props     map[string]string `json:"props"`
	Name      string            `json:"name"`
	Connector map[string]string `json:"connector"`
}

func runChildWorker() {
	var spec childSpec
	if err := json.Unmarshal([]byte(os.Getenv(childWorkerEnv)), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "child worker spec:", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("GREGOR_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	r, err := connect.RunStandalone(context.Background(), spec.Props, connect.Options{Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child worker:", err)
		os.Exit(2)
	}
	if _, _, err := r.Herder.PutConnectorConfig(spec.Name, spec.Connector, false, connect.TargetStarted); err != nil {
		fmt.Fprintln(os.Stderr, "child worker connector:", err)
		os.Exit(2)
	}
	fmt.Println(r.Addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	r.Close()
	os.Exit(0)
}
