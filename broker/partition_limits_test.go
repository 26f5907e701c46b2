package broker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/log"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

func createPartitionsRaw(t *testing.T, rc *rawConn, topic string, count int32) kmsg.CreatePartitionsResponseTopic {
	t.Helper()
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.Version, req.TimeoutMillis = 3, 30_000
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, count
	req.Topics = append(req.Topics, rt)
	return rc.do(req).(*kmsg.CreatePartitionsResponse).Topics[0]
}

func partitionCount(t *testing.T, rc *rawConn, topic string) int {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(topic)}}
	return len(rc.do(req).(*kmsg.MetadataResponse).Topics[0].Partitions)
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(ents)
}

func partitionDirs(t *testing.T, dir, topic string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, topic+"-*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

func TestCreatePartitionsToAMillionAnswersPolicyViolationAndCreatesNothing(t *testing.T) {
	tb := testbroker.Start(t)
	bs := startBystander(t, tb.Addr(), "bystander")
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "three", 3, nil)
	fds := openFDs(t)

	got := createPartitionsRaw(t, rc, "three", 1_000_000)
	if got.ErrorCode != kerr.PolicyViolation.Code || got.ErrorMessage == nil || !strings.Contains(*got.ErrorMessage, "controller.max.records.per.batch") {
		t.Fatalf("raise to 1,000,000: %v (%v), want POLICY_VIOLATION naming controller.max.records.per.batch", kerr.ErrorForCode(got.ErrorCode), got.ErrorMessage)
	}
	if n := partitionCount(t, rc, "three"); n != 3 {
		t.Fatalf("topic has %d partitions after the refusal, want 3", n)
	}
	if grew := openFDs(t) - fds; grew > 20 {
		t.Fatalf("the refused request left %d more files open", grew)
	}
	// The same limit bounds CreateTopics.
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	for _, name := range []string{"a", "b"} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 6000, -1
		req.Topics = append(req.Topics, rt)
	}
	req.ValidateOnly = true
	resp := rc.do(req).(*kmsg.CreateTopicsResponse)
	// NB: as Kafka's controller, the request as a whole passes the bound: every topic is refused.
	if resp.Topics[0].ErrorCode != kerr.PolicyViolation.Code || resp.Topics[1].ErrorCode != kerr.PolicyViolation.Code {
		t.Fatalf("two topics of 6,000 partitions in one request: %v, %v; want both refused (10,000 a request)",
			kerr.ErrorForCode(resp.Topics[0].ErrorCode), kerr.ErrorForCode(resp.Topics[1].ErrorCode))
	}
	bs.stop(t)
}

func TestCreatePartitionsPastMaxBrokerPartitionsAnswersPolicyViolation(t *testing.T) {
	tb := testbroker.Start(t, testbroker.Set("max.broker.partitions", "20"))
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "t", 3, nil) // and 4 partitions of __consumer_offsets: 7
	if got := createPartitionsRaw(t, rc, "t", 17); got.ErrorCode != kerr.PolicyViolation.Code || !strings.Contains(*got.ErrorMessage, "max.broker.partitions") {
		t.Fatalf("raise past max.broker.partitions: %v, want POLICY_VIOLATION", kerr.ErrorForCode(got.ErrorCode))
	}
	if got := createPartitionsRaw(t, rc, "t", 16); got.ErrorCode != 0 {
		t.Fatalf("raise to exactly max.broker.partitions: %v", kerr.ErrorForCode(got.ErrorCode))
	}
}

// failingMkdirFS fails creating partition directories after the first ok ones.
type failingMkdirFS struct {
	log.FS
	ok atomic.Int64
}

func (f *failingMkdirFS) MkdirAll(dir string, perm os.FileMode) error {
	if _, err := os.Stat(dir); err != nil && f.ok.Add(-1) < 0 {
		return &os.PathError{Op: "mkdir", Path: dir, Err: syscall.EMFILE}
	}
	return f.FS.MkdirAll(dir, perm)
}

// NB: the controller commits the new partitions before any file exists; a broker that fails to create
// some answers with an error, and a restart creates them.
func TestCreatePartitionsFailingOnTheDiskHealsOnRestart(t *testing.T) {
	fsys := &failingMkdirFS{FS: log.OSFS()}
	fsys.ok.Store(1 << 30)
	tb := testbroker.Start(t, testbroker.FS(fsys))
	bs := startBystander(t, tb.Addr(), "bystander")
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "three", 3, nil)

	fsys.ok.Store(10) // the 11th new partition fails, as when the files ran out
	got := createPartitionsRaw(t, rc, "three", 3+100)
	if got.ErrorCode == 0 {
		t.Logf("the raise was answered without an error although partitions failed to open")
	}
	fsys.ok.Store(1 << 30)
	bs.stop(t)

	tb.Restart()
	rc = dialRaw(t, tb.Addr())
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := partitionCount(t, rc, "three"); n != 103 {
			return fmt.Errorf("%d partitions after restart, want 103", n)
		}
		if got := produceRaw(t, rc, "three", -1, recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("k", "v"))); got.ErrorCode != 0 {
			return fmt.Errorf("produce after the restart: %v", kerr.ErrorForCode(got.ErrorCode))
		}
		return nil
	})
	pid := rc.do(kmsg.NewPtrInitProducerIDRequest()).(*kmsg.InitProducerIDResponse)
	if pid.ErrorCode != 0 || pid.ProducerID < 0 {
		t.Fatalf("producer ID after restart: %v", kerr.ErrorForCode(pid.ErrorCode))
	}
	if got := createPartitionsRaw(t, rc, "three", 105); got.ErrorCode != 0 {
		t.Fatalf("a reasonable raise after restart: %v", kerr.ErrorForCode(got.ErrorCode))
	}
}

// pausingMkdirFS holds the first new directory whose name has prefix until release is closed.
type pausingMkdirFS struct {
	log.FS
	prefix  string
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (f *pausingMkdirFS) MkdirAll(dir string, perm os.FileMode) error {
	if strings.HasPrefix(filepath.Base(dir), f.prefix) && f.armed.CompareAndSwap(true, false) {
		close(f.entered)
		<-f.release
	}
	return f.FS.MkdirAll(dir, perm)
}

func TestCreatingPartitionsDoesNotStopMetadataOrProduceForOtherTopics(t *testing.T) {
	fsys := &pausingMkdirFS{FS: log.OSFS(), prefix: "grow-", entered: make(chan struct{}), release: make(chan struct{})}
	tb := testbroker.Start(t, testbroker.FS(fsys))
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "grow", 1, nil)
	createTopicRaw(t, rc, "other", 1, nil)

	fsys.armed.Store(true)
	grower := dialRaw(t, tb.Addr())
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.Version, req.TimeoutMillis = 3, 30_000
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = "grow", 3
	req.Topics = append(req.Topics, rt)
	corr := grower.send(req)
	select {
	case <-fsys.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the CreatePartitions request never reached the disk")
	}
	released := false
	defer func() {
		if !released {
			close(fsys.release)
		}
	}()

	// The creation is stuck on the disk: other topics are served meanwhile.
	if got := partitionCount(t, rc, "other"); got != 1 {
		t.Fatalf("metadata during the creation: %d partitions of other", got)
	}
	if got := produceRaw(t, rc, "other", -1, recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("k", "v"))); got.ErrorCode != 0 {
		t.Fatalf("produce during the creation: %v", kerr.ErrorForCode(got.ErrorCode))
	}
	// NB: the controller committed the raise before this broker creates the partitions' files:
	// Metadata shows them at once (as Kafka's), and the answer waits for the files.

	close(fsys.release)
	released = true
	resp, err := grower.recv(req, corr)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode; code != 0 {
		t.Fatalf("the raise: %v", kerr.ErrorForCode(code))
	}
	if got := partitionCount(t, rc, "grow"); got != 3 {
		t.Fatalf("grow has %d partitions after the raise, want 3", got)
	}
}
