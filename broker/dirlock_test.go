package broker_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/internal/dirlock"
	"github.com/gregor-streams/gregor/internal/testbroker"
)

// openBroker runs broker.New on dir, as `gregor server` does, and closes what it opened.
func openBroker(dir string) error {
	cfg, _, err := config.Load("", []string{"listeners=PLAINTEXT://127.0.0.1:0", "log.dirs=" + dir})
	if err != nil {
		return err
	}
	b, err := broker.New(cfg, broker.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	return b.Close()
}

// TestSecondBrokerHelperProcess is the second process of
// TestSecondBrokerOnTheSameLogDirIsRefusedNamingTheHolder (it does nothing in a normal run).
func TestSecondBrokerHelperProcess(t *testing.T) {
	dir := os.Getenv("GREGOR_TEST_SECOND_BROKER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	if err := openBroker(dir); err != nil {
		fmt.Printf("refused: %v\n", err)
		os.Exit(3)
	}
	fmt.Println("opened")
}

func TestSecondBrokerOnTheSameLogDirIsRefusedNamingTheHolder(t *testing.T) {
	tb := testbroker.Start(t)
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "owned", 1, nil)

	// In this process (two brokers in one test binary)...
	err := openBroker(tb.Dir())
	if !errors.Is(err, dirlock.ErrLocked) || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("second broker in-process: %v, want dirlock.ErrLocked naming PID %d", err, os.Getpid())
	}
	// ...and from another process, as a second `gregor server` would.
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondBrokerHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GREGOR_TEST_SECOND_BROKER_DIR="+tb.Dir())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(out), "locked by process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second process: %v\n%s\nwant refused, naming process %d", err, out, os.Getpid())
	}

	// The holder keeps serving.
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("owned")}}
	if resp := rc.do(req).(*kmsg.MetadataResponse); resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("holder's metadata: error %d", resp.Topics[0].ErrorCode)
	}

	// Once the holder stops, the directory opens again (testbroker.Dir reuses it).
	tb.Stop()
	start := time.Now()
	again := testbroker.Start(t, testbroker.Dir(tb.Dir()))
	rc = dialRaw(t, again.Addr())
	if resp := rc.do(req).(*kmsg.MetadataResponse); resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("reopened broker's metadata: error %d", resp.Topics[0].ErrorCode)
	}
	t.Logf("reopened in %v", time.Since(start))
}
