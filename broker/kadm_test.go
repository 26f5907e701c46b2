package broker_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

func configValue(t *testing.T, adm *kadm.Client, topic, name string) (string, kmsgSource) {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe %s: %v %v", topic, err, rc.Err)
	}
	for _, c := range rc.Configs {
		if c.Key == name {
			return c.MaybeValue(), kmsgSource(c.Source)
		}
	}
	t.Fatalf("config %s not described", name)
	return "", 0
}

type kmsgSource int8

func TestAdminClientManagesTopicsAndConfigsThatSurviveRestart(t *testing.T) {
	tb := testbroker.Start(t)
	ctx := context.Background()
	cl := newClient(t, tb.Addr())
	adm := kadm.NewClient(cl)

	// validate_only creates nothing.
	vr, err := adm.ValidateCreateTopics(ctx, 3, -1, map[string]*string{"retention.ms": kadm.StringPtr("1000")}, "checked")
	if err != nil || vr.Error() != nil {
		t.Fatalf("validate create: %v %v", err, vr.Error())
	}
	if td, _ := adm.ListTopics(ctx); td.Has("checked") {
		t.Fatal("validate_only created the topic")
	}
	// Bad configs are named.
	bad, _ := adm.CreateTopics(ctx, 1, -1, map[string]*string{"retention.ms": kadm.StringPtr("soon")}, "bad")
	if r := bad["bad"]; r.Err != kerr.InvalidConfig || r.ErrMessage == "" {
		t.Fatalf("bad config: %v %q, want INVALID_CONFIG with a message", r.Err, r.ErrMessage)
	}
	rf, _ := adm.CreateTopics(ctx, 1, 3, nil, "rf3")
	if r := rf["rf3"]; r.Err != kerr.InvalidReplicationFactor {
		t.Fatalf("replication factor 3 on one broker: %v, want INVALID_REPLICATION_FACTOR", r.Err)
	}

	cr, err := adm.CreateTopics(ctx, 2, -1, map[string]*string{"retention.ms": kadm.StringPtr("3600000"), "cleanup.policy": kadm.StringPtr("delete")}, "managed")
	if err != nil || cr.Error() != nil {
		t.Fatalf("create: %v %v", err, cr.Error())
	}
	if again, _ := adm.CreateTopics(ctx, 2, -1, nil, "managed"); again["managed"].Err != kerr.TopicAlreadyExists {
		t.Fatalf("create twice: %v", again["managed"].Err)
	}
	if v, src := configValue(t, adm, "managed", "retention.ms"); v != "3600000" || src != 1 {
		t.Fatalf("retention.ms %q source %d, want 3600000 from DYNAMIC_TOPIC_CONFIG", v, src)
	}
	if v, src := configValue(t, adm, "managed", "segment.bytes"); v != "1073741824" || src != 5 {
		t.Fatalf("segment.bytes %q source %d, want the default", v, src)
	}

	// Incremental alter: set one, delete another.
	ar, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "segment.ms", Value: kadm.StringPtr("60000")},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
	}, "managed")
	if err != nil || ar[0].Err != nil {
		t.Fatalf("incremental alter: %v %v", err, ar)
	}
	if v, _ := configValue(t, adm, "managed", "segment.ms"); v != "60000" {
		t.Fatalf("segment.ms %q after incremental alter", v)
	}
	if v, src := configValue(t, adm, "managed", "retention.ms"); src != 5 || v != strconv.Itoa(168*3600*1000) {
		t.Fatalf("retention.ms %q source %d after delete, want the default", v, src)
	}
	// Non-incremental alter replaces every override.
	if ar, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: kadm.StringPtr("2000000")}}, "managed"); err != nil || ar[0].Err != nil {
		t.Fatalf("alter: %v %v", err, ar)
	}
	if _, src := configValue(t, adm, "managed", "segment.ms"); src != 5 {
		t.Fatal("AlterConfigs kept an override it should have replaced")
	}

	// Partitions grow, never shrink.
	if pr, err := adm.UpdatePartitions(ctx, 4, "managed"); err != nil || pr.Error() != nil {
		t.Fatalf("grow partitions: %v %v", err, pr.Error())
	}
	if pr, _ := adm.UpdatePartitions(ctx, 2, "managed"); pr.Error() == nil {
		t.Fatal("shrinking partitions succeeded")
	}

	// Records, offsets by time, max timestamp, delete records, offset for leader epoch.
	base := time.UnixMilli(1_600_000_000_000)
	pcl := newClient(t, tb.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := 0; i < 10; i++ {
		ts := base.Add(time.Duration(i) * time.Second)
		if i == 4 {
			ts = base.Add(time.Hour) // the max timestamp sits at offset 4
		}
		if err := pcl.ProduceSync(ctx, &kgo.Record{Topic: "managed", Partition: 3, Value: []byte{byte(i)}, Timestamp: ts}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	after, err := adm.ListOffsetsAfterMilli(ctx, base.Add(6*time.Second).UnixMilli(), "managed")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := after.Lookup("managed", 3); o.Offset != 4 {
		t.Fatalf("first offset at or after +6s: %d, want 4 (its timestamp is +1h)", o.Offset)
	}
	mx, err := adm.ListMaxTimestampOffsets(ctx, "managed")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := mx.Lookup("managed", 3); o.Offset != 4 || o.Timestamp != base.Add(time.Hour).UnixMilli() {
		t.Fatalf("max timestamp offset %d ts %d, want 4", o.Offset, o.Timestamp)
	}
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "managed", Partition: 3, At: 6})
	dr, err := adm.DeleteRecords(ctx, os)
	if err != nil || dr.Error() != nil {
		t.Fatalf("delete records: %v %v", err, dr.Error())
	}
	if r, _ := dr.Lookup("managed", 3); r.LowWatermark != 6 {
		t.Fatalf("low watermark %d, want 6", r.LowWatermark)
	}
	var ep kadm.OffsetForLeaderEpochRequest
	ep.Add("managed", 3, 0)
	er, err := adm.OffsetForLeaderEpoch(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	if r := er["managed"][3]; r.Err != nil || r.EndOffset != 10 {
		t.Fatalf("offset for epoch 0: %d %v, want 10", r.EndOffset, r.Err)
	}

	// Everything survives a restart: the topic ID, partitions, configs and log start offset.
	before, _ := adm.ListTopics(ctx, "managed")
	tb.Restart()
	cl2 := newClient(t, tb.Addr())
	adm2 := kadm.NewClient(cl2)
	td, err := adm2.ListTopics(ctx, "managed")
	if err != nil {
		t.Fatal(err)
	}
	if td["managed"].ID != before["managed"].ID || len(td["managed"].Partitions) != 4 {
		t.Fatalf("after restart: id %v partitions %d, want %v and 4", td["managed"].ID, len(td["managed"].Partitions), before["managed"].ID)
	}
	if v, _ := configValue(t, adm2, "managed", "max.message.bytes"); v != "2000000" {
		t.Fatalf("max.message.bytes %q after restart", v)
	}
	starts, _ := adm2.ListStartOffsets(ctx, "managed")
	if o, _ := starts.Lookup("managed", 3); o.Offset != 6 {
		t.Fatalf("log start offset %d after restart, want 6", o.Offset)
	}

	dt, err := adm2.DeleteTopics(ctx, "managed")
	if err != nil || dt.Error() != nil {
		t.Fatalf("delete: %v %v", err, dt.Error())
	}
	if td, _ := adm2.ListTopics(ctx); td.Has("managed") {
		t.Fatal("topic still listed after delete")
	}
	if dt, _ := adm2.DeleteTopics(ctx, "managed"); dt["managed"].Err != kerr.UnknownTopicOrPartition {
		t.Fatalf("delete twice: %v", dt["managed"].Err)
	}
	tb.Restart()
	if td, _ := kadm.NewClient(newClient(t, tb.Addr())).ListTopics(ctx); td.Has("managed") {
		t.Fatal("deleted topic came back after restart")
	}
}
