package metrics

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/gregor-streams/gregor/broker/log"
)

// TestTimedFSKeepsSendfileAndTimesSyncs: a file opened through the timing FS still offers
// syscall.Conn (the fetch path's sendfile needs it) and each Sync is observed.
func TestTimedFSKeepsSendfileAndTimesSyncs(t *testing.T) {
	m := NewBroker(nil)
	fs := m.TimeFsyncs(log.OSFS())
	f, err := fs.OpenFile(filepath.Join(t.TempDir(), "00000000000000000000.log"), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := f.(syscall.Conn); !ok {
		t.Fatalf("%T does not implement syscall.Conn: fetches would lose sendfile", f)
	}
	if _, err := f.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	var got dto.Metric
	if err := m.fsync.Write(&got); err != nil {
		t.Fatal(err)
	}
	if n := got.GetHistogram().GetSampleCount(); n != 3 {
		t.Fatalf("fsync histogram has %d samples, want 3", n)
	}
	if _, err := fs.OpenFile(filepath.Join(t.TempDir(), "missing", "x"), os.O_RDONLY, 0); err == nil {
		t.Fatal("opening a missing file succeeded")
	}
}
