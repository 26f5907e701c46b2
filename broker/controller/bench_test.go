package controller

import (
	"fmt"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// benchController is an active controller with 3 unfenced brokers and topics × partitions at RF 3.
func benchController(b *testing.B, topics, partitions int) (*Controller, time.Time) {
	cfg := DefaultConfig()
	cfg.Rand = mrand.New(mrand.NewPCG(1, 1))
	c := New(cfg, metadata.Empty())
	now := time.Unix(0, 0)
	c.BecomeActive(now, 1)
	do := func(req kmsg.Request) { handleAndCommit(b, c, now, req) }
	for id := int32(1); id <= 3; id++ {
		r := kmsg.NewPtrBrokerRegistrationRequest()
		r.BrokerID, r.IncarnationID = id, [16]byte{byte(id)}
		do(r)
		h := kmsg.NewPtrBrokerHeartbeatRequest()
		h.BrokerID, h.BrokerEpoch, h.CurrentMetadataOffset = id, c.Image().Broker(id).Epoch, c.Committed().Offset()
		do(h)
	}
	for t := range topics {
		r := kmsg.NewPtrCreateTopicsRequest()
		tt := kmsg.NewCreateTopicsRequestTopic()
		tt.Topic, tt.NumPartitions, tt.ReplicationFactor = fmt.Sprintf("topic-%d", t), int32(partitions), 3
		r.Topics = append(r.Topics, tt)
		do(r)
	}
	return c, now
}

// handleAndCommit handles req and commits its records at the next offset.
func handleAndCommit(b *testing.B, c *Controller, now time.Time, req kmsg.Request) {
	res, err := c.Handle(now, req)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Records) > 0 {
		if err := c.ApplyCommitted(c.Committed().Offset()+1, 1, res.Records); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeartbeat is the controller's steady load: heartbeats from unfenced brokers that change
// nothing (1000 partitions in the image).
func BenchmarkHeartbeat(b *testing.B) {
	c, now := benchController(b, 100, 10)
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.BrokerID, req.BrokerEpoch = 2, c.Image().Broker(2).Epoch
	req.CurrentMetadataOffset = c.Committed().Offset()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Handle(now, req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "heartbeats/s")
}

// BenchmarkFenceAndRecover measures a broker failover on 1000 partitions: fence broker 1 (it leaves
// every ISR, a third of the partitions elect a new leader), commit, then register and unfence it again.
func BenchmarkFenceAndRecover(b *testing.B) {
	c, now := benchController(b, 100, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := kmsg.NewPtrBrokerHeartbeatRequest()
		f.BrokerID, f.BrokerEpoch, f.WantFence = 1, c.Image().Broker(1).Epoch, true
		handleAndCommit(b, c, now, f)
		r := kmsg.NewPtrBrokerRegistrationRequest()
		r.BrokerID, r.IncarnationID = 1, [16]byte{byte(i), byte(i >> 8), 1}
		handleAndCommit(b, c, now, r)
		h := kmsg.NewPtrBrokerHeartbeatRequest()
		h.BrokerID, h.BrokerEpoch, h.CurrentMetadataOffset = 1, c.Image().Broker(1).Epoch, c.Committed().Offset()
		handleAndCommit(b, c, now, h)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "failovers/s")
}
