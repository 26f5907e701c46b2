package broker_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/internal/testbroker"
)

// A broker configured without process.roles is a one-voter KRaft quorum: its controller runs on an
// internal listener (not advertised), its topics are records of the metadata log, and they survive
// a restart from that log alone.
func TestSingleNodeIsAOneVoterQuorum(t *testing.T) {
	start := time.Now()
	tb := testbroker.Start(t)
	t.Logf("single node started in %v", time.Since(start).Round(time.Millisecond))
	rc := dialRaw(t, tb.Addr())

	dqr := kmsg.NewPtrDescribeQuorumRequest()
	dqt := kmsg.NewDescribeQuorumRequestTopic()
	dqt.Topic = "__cluster_metadata"
	dqt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	dqr.Topics = append(dqr.Topics, dqt)
	dq := rc.do(dqr).(*kmsg.DescribeQuorumResponse)
	if dq.ErrorCode != 0 || len(dq.Topics) != 1 || len(dq.Topics[0].Partitions) != 1 {
		t.Fatalf("DescribeQuorum: %+v", dq)
	}
	q := dq.Topics[0].Partitions[0]
	if q.LeaderID != 1 || len(q.CurrentVoters) != 1 || q.CurrentVoters[0].ReplicaID != 1 || len(q.Observers) != 0 {
		t.Fatalf("quorum: leader %d, voters %+v, observers %+v; want node 1 the only voter and leader", q.LeaderID, q.CurrentVoters, q.Observers)
	}
	md := rc.do(kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse)
	if len(md.Brokers) != 1 || md.Brokers[0].Port != int32(addrPort(t, tb.Addr())) {
		t.Fatalf("Metadata brokers %+v: want only the client listener %s, never the controller's", md.Brokers, tb.Addr())
	}

	createTopic(t, tb.Addr(), "recorded", 2, map[string]*string{"retention.ms": kadm.StringPtr("7200000")})
	recs, err := broker.MetadataLogRecords(tb.Broker())
	if err != nil {
		t.Fatal(err)
	}
	var topicID metadata.Uuid
	partitions := 0
	for _, r := range recs {
		switch r := r.(type) {
		case *metadata.TopicRecord:
			if r.Name == "recorded" {
				topicID = r.TopicID
			}
		case *metadata.PartitionRecord:
			if r.TopicID == topicID && !topicID.IsZero() && len(r.Replicas) == 1 && r.Replicas[0] == 1 {
				partitions++
			}
		}
	}
	if topicID.IsZero() || partitions != 2 {
		t.Fatalf("metadata log: TopicRecord for recorded %v, %d PartitionRecords on node 1; want one and 2", topicID, partitions)
	}

	tb.Restart()
	adm := kadm.NewClient(newClient(t, tb.Addr()))
	td, err := adm.ListTopics(context.Background(), "recorded")
	if err != nil || td.Error() != nil {
		t.Fatalf("after restart: %v %v", err, td.Error())
	}
	if d := td["recorded"]; [16]byte(d.ID) != [16]byte(topicID) || len(d.Partitions) != 2 {
		t.Fatalf("after restart: %+v, want ID %v and 2 partitions", d, topicID)
	}
	if v, _ := configValue(t, adm, "recorded", "retention.ms"); v != "7200000" {
		t.Fatalf("retention.ms after restart: %q", v)
	}
}

func addrPort(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
