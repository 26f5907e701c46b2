package lifecycle_test

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestEveryControllerAPIAnswersOverTheWire sends each controller API through the controller listener
// with franz-go (which negotiates each version from our ApiVersions) and checks the answer and its
// effect on the published image.
func TestEveryControllerAPIAnswersOverTheWire(t *testing.T) {
	c := startCluster(t, 1)
	c.waitUnfenced()
	nd := c.nodes[1]
	c.createTopic("t", 1, 1)
	send := func(req kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := request(t, nd, req)
		if err != nil {
			t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
		}
		return resp
	}
	ok := func(name string, code int16, allowed ...int16) {
		t.Helper()
		if code == 0 {
			return
		}
		for _, a := range allowed {
			if code == a {
				return
			}
		}
		t.Errorf("%s: %v", name, kerr.ErrorForCode(code))
	}

	cp := kmsg.NewPtrCreatePartitionsRequest()
	cpt := kmsg.NewCreatePartitionsRequestTopic()
	cpt.Topic, cpt.Count = "t", 3
	cp.Topics = append(cp.Topics, cpt)
	ok("CreatePartitions", send(cp).(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode)
	c.waitTopic("t", 3)

	iac := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "t"
	cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	cfg.Name, cfg.Op, cfg.Value = "retention.ms", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("60000")
	res.Configs = append(res.Configs, cfg)
	iac.Resources = append(iac.Resources, res)
	ok("IncrementalAlterConfigs", send(iac).(*kmsg.IncrementalAlterConfigsResponse).Resources[0].ErrorCode)

	ac := kmsg.NewPtrAlterConfigsRequest()
	ares := kmsg.NewAlterConfigsRequestResource()
	ares.ResourceType, ares.ResourceName = kmsg.ConfigResourceTypeTopic, "t"
	acfg := kmsg.NewAlterConfigsRequestResourceConfig()
	acfg.Name, acfg.Value = "cleanup.policy", kmsg.StringPtr("compact")
	ares.Configs = append(ares.Configs, acfg)
	ac.Resources = append(ac.Resources, ares)
	ok("AlterConfigs", send(ac).(*kmsg.AlterConfigsResponse).Resources[0].ErrorCode)
	testutil.CheckFor(t, waitLong, poll, func() error {
		// AlterConfigs replaces the topic's configs: cleanup.policy set, retention.ms gone.
		cfgs := nd.pub.Current().Configs(metadata.TopicResource("t"))
		if cfgs["cleanup.policy"] != "compact" || cfgs["retention.ms"] != "" {
			return fmt.Errorf("topic configs %v", cfgs)
		}
		return nil
	})

	epoch := nd.mgr.State().BrokerEpoch
	ap := kmsg.NewPtrAllocateProducerIDsRequest()
	ap.BrokerID, ap.BrokerEpoch = 1, epoch
	apr := send(ap).(*kmsg.AllocateProducerIDsResponse)
	ok("AllocateProducerIds", apr.ErrorCode)
	if apr.ProducerIDLen != 1000 {
		t.Errorf("AllocateProducerIds: block of %d, want 1000", apr.ProducerIDLen)
	}

	p0 := nd.pub.Current().Partition("t", 0)
	alter := kmsg.NewPtrAlterPartitionRequest()
	alter.BrokerID, alter.BrokerEpoch = 1, epoch
	at := kmsg.NewAlterPartitionRequestTopic()
	at.Topic, at.TopicID = "t", nd.pub.Current().Topic("t").ID
	atp := kmsg.NewAlterPartitionRequestTopicPartition()
	atp.Partition, atp.LeaderEpoch, atp.PartitionEpoch, atp.NewISR = 0, p0.LeaderEpoch, p0.PartitionEpoch, []int32{1}
	isr := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
	isr.BrokerID, isr.BrokerEpoch = 1, epoch
	atp.NewEpochISR = append(atp.NewEpochISR, isr)
	at.Partitions = append(at.Partitions, atp)
	alter.Topics = append(alter.Topics, at)
	apResp := send(alter).(*kmsg.AlterPartitionResponse)
	ok("AlterPartition", apResp.ErrorCode)
	if len(apResp.Topics) != 1 || len(apResp.Topics[0].Partitions) != 1 {
		t.Errorf("AlterPartition answered %+v", apResp.Topics)
	} else {
		ok("AlterPartition t-0", apResp.Topics[0].Partitions[0].ErrorCode)
	}

	el := kmsg.NewPtrElectLeadersRequest()
	elt := kmsg.NewElectLeadersRequestTopic()
	elt.Topic, elt.Partitions = "t", []int32{0}
	el.Topics = append(el.Topics, elt)
	elr := send(el).(*kmsg.ElectLeadersResponse)
	ok("ElectLeaders", elr.ErrorCode)
	ok("ElectLeaders t-0", elr.Topics[0].Partitions[0].ErrorCode, kerr.ElectionNotNeeded.Code)

	ra := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rat := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rat.Topic = "t"
	rap := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rap.Partition, rap.Replicas = 1, []int32{1}
	rat.Partitions = append(rat.Partitions, rap)
	ra.Topics = append(ra.Topics, rat)
	rar := send(ra).(*kmsg.AlterPartitionAssignmentsResponse)
	ok("AlterPartitionReassignments", rar.ErrorCode)
	ok("AlterPartitionReassignments t-1", rar.Topics[0].Partitions[0].ErrorCode, kerr.NoReassignmentInProgress.Code)

	lr := kmsg.NewPtrListPartitionReassignmentsRequest()
	ok("ListPartitionReassignments", send(lr).(*kmsg.ListPartitionReassignmentsResponse).ErrorCode)

	dt := kmsg.NewPtrDeleteTopicsRequest()
	dtt := kmsg.NewDeleteTopicsRequestTopic()
	dtt.Topic = kmsg.StringPtr("t")
	dt.Topics, dt.TopicNames = append(dt.Topics, dtt), []string{"t"}
	ok("DeleteTopics", send(dt).(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode)
	testutil.CheckFor(t, waitLong, poll, func() error {
		if nd.pub.Current().Topic("t") != nil {
			return fmt.Errorf("t still in the image")
		}
		return nil
	})
}
