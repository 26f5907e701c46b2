package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRepeatedErrorsLogOncePerIntervalWithTheCountLeftOut(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	r := newRepeatLog(slog.New(slog.NewTextHandler(&buf, nil)), 10*time.Second, func() time.Time { return now })
	for i := 0; i < 1000; i++ {
		r.Error("allocating producer id failed", "err", "disk full")
		r.Warn("retention failed", "partition", i)
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Fatalf("1,000 repeats of two failures wrote %d lines, want 2:\n%s", n, buf.String())
	}
	now = now.Add(10 * time.Second)
	buf.Reset()
	r.Error("allocating producer id failed", "err", "disk full")
	if got := buf.String(); !strings.Contains(got, "repeated=999") || !strings.Contains(got, "level=ERROR") {
		t.Fatalf("after the interval: %q, want the line with repeated=999", got)
	}
	buf.Reset()
	r.Error("allocating producer id failed", "err", "disk full")
	if buf.Len() != 0 {
		t.Fatalf("a repeat right after: %q, want nothing", buf.String())
	}
}
