// Package testutil holds the helpers that tests of several packages share. It has one job: waiting,
// in bounded time, for a condition that a real component reaches asynchronously.
package testutil

import (
	"testing"
	"time"
)

// CheckFor calls check every interval until it returns nil or timeout has passed. On timeout it
// fails the test with the last error check returned, so a failure names what was still wrong (as
// nats-server's checkFor does). check is also called once at the start, without waiting.
//
// Tests poll with CheckFor instead of sleeping: no test asserts on an elapsed sleep.
func CheckFor(t testing.TB, timeout, interval time.Duration, check func() error) {
	t.Helper()
	if err := Poll(timeout, interval, check); err != nil {
		t.Fatalf("not true after %v: %v", timeout, err)
	}
}

// Poll is CheckFor for callers that are not a test's goroutine (a helper goroutine must not call
// t.Fatal): it returns nil once check does, or check's last error when timeout has passed.
func Poll(timeout, interval time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if !time.Now().Before(deadline) {
			return err
		}
		time.Sleep(min(interval, time.Until(deadline)+time.Millisecond))
	}
}
