//go:build unix

package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testcluster"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestHarnessCountsAckedWritesLostFromATruncatedLog proves the whole pipeline (workload, history,
// checker) can fail: acknowledged records are cut out of the log behind the broker's back (kill,
// truncate the segment, restart), and the run must report them lost and, as the reader had seen
// them, vanished.
func TestHarnessCountsAckedWritesLostFromATruncatedLog(t *testing.T) {
	c := testcluster.Start(t)
	n := c.Nodes[0]
	run, err := Start(context.Background(), Workload{Bootstrap: c.Bootstrap(), Partitions: 1, Rate: 500})
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if st := run.Stats(); st.Acked < 300 || st.Polled < 300 {
			return fmt.Errorf("workload has not written enough yet: %s", st)
		}
		return nil
	})
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	segment := filepath.Join(n.Dir, "chaos-0", "00000000000000000000.log")
	fi, err := os.Stat(segment)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(segment, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	h, err := run.Stop()
	res := Check(h)
	t.Logf("stop: %v\n%s", err, res)
	if res.Counts[LostWrite] == 0 || res.Counts[Vanished] == 0 {
		t.Fatalf("the checker missed acknowledged records cut out of the log:\n%s", res)
	}
}
