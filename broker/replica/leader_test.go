package replica

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/gregor-streams/gregor/broker/log"
	"github.com/gregor-streams/gregor/broker/partition"
	"github.com/gregor-streams/gregor/broker/server"
)

// leaderServer is the leader side of replication for one partition ("t", 0), served over the
// Kafka protocol by broker/server from a real log and a real partition.Partition — the leader
// half the broker's handlers will do (Fetch from a replica records its progress, OffsetForLeaderEpoch
// answers from the leader-epoch cache, ListOffsets for a replica answers the log ends). It lets
// the tests choose leader epochs, which the single-node broker cannot.
type leaderServer struct {
	id   int32
	log  *plog.Log
	part *partition.Partition
	addr string

	// dead makes Fetch fail with NOT_LEADER_OR_FOLLOWER, as if the broker died after answering
	// OffsetForLeaderEpoch; fetches counts the Fetch requests received.
	dead    atomic.Bool
	fetches atomic.Int32
	// diverge makes Fetch answer DivergingEpoch at the fetch offset (epoch 0) for every
	// partition: a divergence that truncation cannot resolve.
	diverge atomic.Bool
}

func startLeader(t *testing.T, id int32, l *plog.Log, part *partition.Partition) *leaderServer {
	t.Helper()
	return startLeaderB(t, id, l, part)
}

func startLeaderB(t testing.TB, id int32, l *plog.Log, part *partition.Partition) *leaderServer {
	t.Helper()
	ls := &leaderServer{id: id, log: l, part: part}
	srv := server.New(server.Config{Logger: quiet()}, ls)
	addr, err := srv.ListenAndServe(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ls.addr = addr.String()
	return ls
}

var leaderAPIs = map[int16]int16{18: 3, 3: 9, 1: 12, 2: 7, 23: 4} // ApiVersions, Metadata, Fetch, ListOffsets, OffsetForLeaderEpoch

func (ls *leaderServer) Supported(key, version int16) bool {
	max, ok := leaderAPIs[key]
	return ok && version <= max
}

func (ls *leaderServer) Handle(c *server.Conn, req kmsg.Request) server.Response {
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := r.ResponseKind().(*kmsg.ApiVersionsResponse)
		for k, v := range leaderAPIs {
			resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MaxVersion: v})
		}
		return server.Response{Msg: resp}
	case *kmsg.MetadataRequest:
		resp := r.ResponseKind().(*kmsg.MetadataResponse)
		host, port, _ := net.SplitHostPort(ls.addr)
		p, _ := strconv.Atoi(port)
		resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: ls.id, Host: host, Port: int32(p)}}
		resp.ControllerID = ls.id
		return server.Response{Msg: resp}
	case *kmsg.FetchRequest:
		return server.Response{Msg: ls.fetch(c, r)}
	case *kmsg.OffsetForLeaderEpochRequest:
		resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetForLeaderEpochResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
				sp.Partition = rp.Partition
				if _, _, err := ls.part.CheckEpoch(rp.CurrentLeaderEpoch, true); err != nil {
					sp.ErrorCode, sp.LeaderEpoch, sp.EndOffset = codeOf(err), -1, -1
				} else {
					sp.LeaderEpoch, sp.EndOffset = ls.log.EndOffsetForEpoch(rp.LeaderEpoch)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return server.Response{Msg: resp}
	case *kmsg.ListOffsetsRequest:
		resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition, sp.Timestamp = rp.Partition, -1
				if _, epoch, err := ls.part.CheckEpoch(rp.CurrentLeaderEpoch, true); err != nil {
					sp.ErrorCode = codeOf(err)
				} else if rp.Timestamp == -2 {
					sp.Offset, sp.LeaderEpoch = ls.log.LogStartOffset(), epoch
				} else {
					sp.Offset, sp.LeaderEpoch = ls.log.LogEndOffset(), epoch
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return server.Response{Msg: resp}
	}
	return server.Response{Close: true}
}

func codeOf(err error) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}

// fetch serves a replica's Fetch: record its position, read up to the log end, long-poll on the
// partition's FetchWaiter when there is nothing new.
func (ls *leaderServer) fetch(c *server.Conn, r *kmsg.FetchRequest) *kmsg.FetchResponse {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	ls.fetches.Add(1)
	if dead, diverge := ls.dead.Load(), ls.diverge.Load(); dead || diverge {
		for _, rt := range r.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				if dead {
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
				} else {
					sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = 0, rp.FetchOffset
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	replica := r.ReplicaID
	if r.Version >= 15 {
		replica = r.ReplicaState.ID
	}
	deadline := time.Now().Add(time.Duration(r.MaxWaitMillis) * time.Millisecond)
	for {
		resp.Topics = resp.Topics[:0]
		size := 0
		w := partition.NewFetchWaiter()
		for _, rt := range r.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
				view, err := ls.part.FollowerFetch(replica, rp.FetchOffset, rp.CurrentLeaderEpoch)
				if err == nil && rp.FetchOffset < ls.log.LogStartOffset() {
					err = kerr.OffsetOutOfRange
				}
				if err != nil {
					sp.ErrorCode = codeOf(err)
					st.Partitions = append(st.Partitions, sp)
					continue
				}
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = view.HighWatermark, view.HighWatermark, view.LogStartOffset
				chunk, err := ls.log.Read(rp.FetchOffset, int(rp.PartitionMaxBytes), view.LogEndOffset)
				if err == nil {
					sp.RecordBatches, err = chunk.ReadInto(nil)
				}
				if err != nil {
					sp.ErrorCode = codeOf(err)
				}
				size += len(sp.RecordBatches)
				ls.part.Watch(w, view.HighWatermark, view.LogEndOffset)
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		if size > 0 || !time.Now().Before(deadline) {
			ls.part.Unwatch(w)
			return resp
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-w.C():
		case <-t.C:
		case <-c.Done:
		}
		t.Stop()
		ls.part.Unwatch(w)
	}
}

// dialer returns a Manager dial function reaching broker id at addr through one kgo client.
func dialer(t *testing.T, addr string) func(int32) (Client, error) {
	t.Helper()
	return dialerB(t, addr)
}

func dialerB(t testing.TB, addr string) func(int32) (Client, error) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	// Learn the broker ids behind the seed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest()); err != nil {
		t.Fatal(err)
	}
	return func(id int32) (Client, error) { return cl.Broker(int(id)), nil }
}
