package testutil

import (
	"fmt"
	"testing"
	"time"
)

func TestPollReturnsOnceTheCheckHolds(t *testing.T) {
	calls := 0
	err := Poll(time.Second, time.Millisecond, func() error {
		calls++
		if calls < 3 {
			return fmt.Errorf("call %d", calls)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Poll = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestPollReportsTheLastErrorOnTimeout(t *testing.T) {
	calls := 0
	err := Poll(20*time.Millisecond, time.Millisecond, func() error {
		calls++
		return fmt.Errorf("still wrong (call %d)", calls)
	})
	if err == nil || err.Error() != fmt.Sprintf("still wrong (call %d)", calls) {
		t.Fatalf("Poll = %v, want the last error (call %d)", err, calls)
	}
	if calls < 2 {
		t.Fatalf("check called %d times in 20ms at 1ms intervals", calls)
	}
}
