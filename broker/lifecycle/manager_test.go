package lifecycle_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streams/gregor/broker/lifecycle"
	"github.com/gregor-streams/gregor/broker/quorum"
)

// TestAManagerWithNoReachableControllerKeepsTryingAndClosesPromptly: with every voter down the
// manager stays unregistered and fenced, WaitFor ends with its context, and Close does not wait out a
// dial or a backoff.
func TestAManagerWithNoReachableControllerKeepsTryingAndClosesPromptly(t *testing.T) {
	var voters []quorum.Voter
	for id := int32(1); id <= 3; id++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		voters = append(voters, quorum.Voter{ID: id, Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port})
		ln.Close() // nobody listens there any more
	}
	m, err := lifecycle.Start(lifecycle.Config{
		NodeID: 7, Voters: voters, HeartbeatInterval: 50 * time.Millisecond,
		RetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond,
		MetadataOffset: func() int64 { return -1 }, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	st, err := m.WaitFor(ctx, func(s lifecycle.State) bool { return s.BrokerEpoch >= 0 })
	if !errors.Is(err, context.DeadlineExceeded) || st.BrokerEpoch != -1 || !st.Fenced {
		t.Fatalf("WaitFor with no controller: %+v, %v", st, err)
	}
	start := time.Now()
	m.Close()
	m.Close()
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Close took %v", took)
	}
	if _, err := m.WaitFor(context.Background(), func(lifecycle.State) bool { return false }); !errors.Is(err, lifecycle.ErrClosed) {
		t.Fatalf("WaitFor after Close: %v, want ErrClosed", err)
	}
}

// TestABrokerOfAnotherClusterIsRefusedForGood: a broker whose cluster.id differs from the
// controller's gets INCONSISTENT_CLUSTER_ID; its manager stops retrying and reports it (Kafka's broker
// shuts down on it).
func TestABrokerOfAnotherClusterIsRefusedForGood(t *testing.T) {
	c := startCluster(t, 1)
	c.waitUnfenced()
	m, err := lifecycle.Start(lifecycle.Config{
		NodeID: 9, ClusterID: "another-cluster", Voters: c.voters, HeartbeatInterval: 50 * time.Millisecond,
		RetryBackoff: 10 * time.Millisecond, MetadataOffset: func() int64 { return -1 }, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	_, err = m.WaitFor(ctx, func(s lifecycle.State) bool { return s.BrokerEpoch >= 0 })
	if !errors.Is(err, kerr.InconsistentClusterID) || !errors.Is(m.Err(), kerr.InconsistentClusterID) {
		t.Fatalf("WaitFor: %v, Err: %v; want INCONSISTENT_CLUSTER_ID", err, m.Err())
	}
}
