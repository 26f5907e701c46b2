//go:build unix

package broker_test

import (
	"strings"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

func TestCreatePartitionsBeyondTheOpenFileLimitIsRefusedBeforeCreatingAny(t *testing.T) {
	tb := testbroker.Start(t)
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "t", 1, nil)
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Skip(err)
	}
	fds := openFDs(t)
	lower := old
	lower.Cur = uint64(fds + 600) // room for 600 - 256 reserved = 344 partitions
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lower); err != nil {
		t.Skip(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
	got := createPartitionsRaw(t, rc, "t", 1001)
	if got.ErrorCode != kerr.PolicyViolation.Code || !strings.Contains(*got.ErrorMessage, "ulimit -n") {
		t.Fatalf("1,000 partitions with room for 344: %v (%v), want POLICY_VIOLATION naming ulimit -n", kerr.ErrorForCode(got.ErrorCode), got.ErrorMessage)
	}
	if n := partitionDirs(t, tb.Dir(), "t"); n != 1 {
		t.Fatalf("%d partition directories after the refusal, want 1", n)
	}
	if got := createPartitionsRaw(t, rc, "t", 101); got.ErrorCode != 0 {
		t.Fatalf("100 partitions with room for 344: %v", kerr.ErrorForCode(got.ErrorCode))
	}
}
