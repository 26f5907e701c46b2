package controller

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// servedKeys are the request types Handle serves.
var servedKeys = []int16{
	kmsg.BrokerRegistration.Int16(), kmsg.BrokerHeartbeat.Int16(), kmsg.CreateTopics.Int16(),
	kmsg.DeleteTopics.Int16(), kmsg.CreatePartitions.Int16(), kmsg.IncrementalAlterConfigs.Int16(),
	kmsg.AlterConfigs.Int16(), kmsg.AllocateProducerIDs.Int16(), kmsg.AlterPartition.Int16(),
	kmsg.ElectLeaders.Int16(), kmsg.AlterPartitionAssignments.Int16(), kmsg.ListPartitionReassignments.Int16(),
}

// FuzzHandle feeds arbitrary request bodies (any served type, any version kmsg decodes) to a controller
// with three brokers and two topics: Handle must not panic, must not return an error for a decodable
// request, and the images must keep their invariants once the records commit.
func FuzzHandle(f *testing.F) {
	seed := func(r kmsg.Request) {
		for i, k := range servedKeys {
			if k == r.Key() {
				f.Add(byte(i), byte(r.GetVersion()), r.AppendTo(nil))
			}
		}
	}
	ct := kmsg.NewPtrCreateTopicsRequest()
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = "x", 3, 2
	ct.Topics = append(ct.Topics, t)
	seed(ct)
	ap := kmsg.NewPtrAlterPartitionRequest()
	ap.BrokerID, ap.BrokerEpoch = 1, 1
	apt := kmsg.NewAlterPartitionRequestTopic()
	apt.Topic = "a"
	app := kmsg.NewAlterPartitionRequestTopicPartition()
	app.NewISR = []int32{1}
	apt.Partitions = append(apt.Partitions, app)
	ap.Topics = append(ap.Topics, apt)
	seed(ap)
	el := kmsg.NewPtrElectLeadersRequest()
	el.Version = 1
	seed(el)
	ra := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rat := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rat.Topic = "a"
	rap := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rap.Replicas = []int32{2, 3}
	rat.Partitions = append(rat.Partitions, rap)
	ra.Topics = append(ra.Topics, rat)
	seed(ra)
	hb := kmsg.NewPtrBrokerHeartbeatRequest()
	hb.BrokerID, hb.BrokerEpoch, hb.WantShutdown = 2, 3, true
	seed(hb)

	f.Fuzz(func(t *testing.T, which, version byte, body []byte) {
		h := newHarness(t)
		h.run("cluster n=3")
		h.run("create-topic name=a partitions=2 rf=3")
		h.run("create-topic name=b partitions=1 rf=1 configs=unclean.leader.election.enable:true")
		req := kmsg.RequestForKey(servedKeys[int(which)%len(servedKeys)])
		req.SetVersion(int16(version) % (req.MaxVersion() + 1))
		if err := req.ReadFrom(body); err != nil {
			return
		}
		res, err := h.c.Handle(h.now.Add(time.Second), req)
		if err != nil {
			t.Fatalf("%T: %v", req, err)
		}
		if len(res.Records) > 0 {
			if err := h.commit(res.Records); err != nil {
				t.Fatal(err)
			}
		}
		if res.Reply == nil {
			t.Fatalf("%T: no reply", req)
		}
	})
}
