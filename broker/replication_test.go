package broker_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

// alterTopicConfigRaw sets one topic config with IncrementalAlterConfigs.
func alterTopicConfigRaw(t *testing.T, rc *rawConn, topic, name, value string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Value = name, kmsg.StringPtr(value)
	res.Configs = append(res.Configs, c)
	req.Resources = append(req.Resources, res)
	resp := rc.do(req).(*kmsg.IncrementalAlterConfigsResponse)
	mustOK(t, "alter "+topic+" "+name, resp.Resources[0].ErrorCode, resp.Resources[0].ErrorMessage)
}

// A single node is the whole ISR: acks=all with min.insync.replicas above 1 is refused before
// anything is appended (NOT_ENOUGH_REPLICAS), and accepted once the topic's setting comes down.
func TestAcksAllIsRefusedWhileTheISRIsBelowMinInsyncReplicas(t *testing.T) {
	tb := testbroker.Start(t)
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "strict", 1, map[string]string{"min.insync.replicas": "2"})
	now := time.Now().UnixMilli()

	sp := produceRaw(t, rc, "strict", -1, recordBatch(-1, -1, -1, now, record("k", "v")))
	if sp.ErrorCode != kerr.NotEnoughReplicas.Code {
		t.Fatalf("acks=all with min.insync.replicas=2 on one node: %v, want NOT_ENOUGH_REPLICAS", kerr.ErrorForCode(sp.ErrorCode))
	}
	if sp.ErrorMessage == nil || !strings.Contains(*sp.ErrorMessage, "min.insync.replicas") {
		t.Fatalf("error message %v does not name min.insync.replicas", sp.ErrorMessage)
	}
	if end := listOffsetRaw(t, rc, "strict", -1); end != 0 {
		t.Fatalf("a refused acks=all produce appended: high watermark %d", end)
	}

	alterTopicConfigRaw(t, rc, "strict", "min.insync.replicas", "1")
	sp = produceRaw(t, rc, "strict", -1, recordBatch(-1, -1, -1, now, record("k", "v")))
	mustOK(t, "acks=all after min.insync.replicas=1", sp.ErrorCode, sp.ErrorMessage)
	if end := listOffsetRaw(t, rc, "strict", -1); end != 1 {
		t.Fatalf("high watermark %d after one acknowledged record, want 1", end)
	}
}

// listOffsetRaw answers ListOffsets for partition 0 at timestamp ts (-1 latest, -2 earliest).
func listOffsetRaw(t *testing.T, rc *rawConn, topic string, ts int64) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 7
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = ts
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	p := rc.do(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	mustOK(t, "list offsets "+topic, p.ErrorCode, nil)
	return p.Offset
}

// The partition's leader epoch is assigned when it becomes leader: recorded in the leader-epoch
// checkpoint before any produce, answered in Metadata, and stamped in every produced batch.
func TestLeaderEpochIsCheckpointedAnsweredAndStampedInBatches(t *testing.T) {
	tb := testbroker.Start(t)
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "epochs", 1, nil)

	data, err := os.ReadFile(filepath.Join(tb.Dir(), "epochs-0", "leader-epoch-checkpoint"))
	if err != nil {
		t.Fatalf("no leader-epoch checkpoint before the first produce: %v", err)
	}
	if got := string(data); got != "0\n1\n0 0\n" {
		t.Fatalf("leader-epoch checkpoint %q, want epoch 0 from offset 0", got)
	}

	mreq := kmsg.NewPtrMetadataRequest()
	mreq.Version = 12
	mreq.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("epochs")}}
	mp := rc.do(mreq).(*kmsg.MetadataResponse).Topics[0].Partitions[0]
	if mp.LeaderEpoch != 0 || len(mp.ISR) != 1 || mp.ISR[0] != mp.Leader {
		t.Fatalf("metadata: leader %d epoch %d isr %v", mp.Leader, mp.LeaderEpoch, mp.ISR)
	}

	sp := produceRaw(t, rc, "epochs", -1, recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("k", "v")))
	mustOK(t, "produce", sp.ErrorCode, sp.ErrorMessage)
	freq := kmsg.NewPtrFetchRequest()
	freq.Version, freq.MaxBytes = 12, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "epochs"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 1<<20, mp.LeaderEpoch
	ft.Partitions = append(ft.Partitions, fp)
	freq.Topics = append(freq.Topics, ft)
	got := rc.do(freq).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	mustOK(t, "fetch", got.ErrorCode, nil)
	var batch kmsg.RecordBatch
	if err := batch.ReadFrom(got.RecordBatches); err != nil {
		t.Fatalf("fetched batch: %v", err)
	}
	if batch.PartitionLeaderEpoch != mp.LeaderEpoch {
		t.Fatalf("batch leader epoch %d, want %d", batch.PartitionLeaderEpoch, mp.LeaderEpoch)
	}
}
