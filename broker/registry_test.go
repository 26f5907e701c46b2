package broker_test

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streams/gregor/broker/log"
	"github.com/gregor-streams/gregor/internal/testbroker"
)

// pausingRegistryFS holds the next write of the topic registry until release is closed.
type pausingRegistryFS struct {
	log.FS
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (f *pausingRegistryFS) OpenFile(name string, flag int, perm os.FileMode) (log.File, error) {
	if filepath.Base(name) == "gregor-topics.json.tmp" && f.armed.CompareAndSwap(true, false) {
		close(f.entered)
		<-f.release
	}
	return f.FS.OpenFile(name, flag, perm)
}

// The registry is written without Broker.mu: while its write is stuck on the disk, metadata and
// produce for other topics are served.
func TestRegistryWriteStuckOnTheDiskDoesNotStopMetadataOrProduce(t *testing.T) {
	fsys := &pausingRegistryFS{FS: log.OSFS(), entered: make(chan struct{}), release: make(chan struct{})}
	tb := testbroker.Start(t, testbroker.FS(fsys))
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "other", 1, nil)

	fsys.armed.Store(true)
	creator := dialRaw(t, tb.Addr())
	done := make(chan struct{})
	go func() {
		defer close(done)
		createTopicRaw(t, creator, "new", 1, nil)
	}()
	select {
	case <-fsys.entered:
	case <-time.After(10 * time.Second):
		close(fsys.release)
		t.Fatal("the CreateTopics request never wrote the registry")
	}
	released := false
	defer func() {
		if !released {
			close(fsys.release)
		}
	}()
	if got := partitionCount(t, rc, "other"); got != 1 {
		t.Fatalf("metadata during the registry write: %d partitions of other", got)
	}
	if got := produceRaw(t, rc, "other", -1, recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("k", "v"))); got.ErrorCode != 0 {
		t.Fatalf("produce during the registry write: %v", kerr.ErrorForCode(got.ErrorCode))
	}
	close(fsys.release)
	released = true
	<-done
}
