package broker_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/broker/log"
	"github.com/gregor-streams/gregor/broker/quorum"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// legacyRegistry is the gregor-topics.json format of the releases before the metadata quorum.
type legacyRegistry struct {
	ClusterID      string                `json:"cluster_id"`
	NextProducerID int64                 `json:"next_producer_id"`
	Topics         []legacyRegistryTopic `json:"topics"`
}

type legacyRegistryTopic struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

// legacyDataDir builds a previous release's data dir: partition logs and __consumer_offsets (with
// group g1's committed offsets) written by a broker through broker/log, then the metadata quorum's
// traces removed and gregor-topics.json written in the old format, plus a topic "epochs" whose log
// was written directly through broker/log at leader epoch 7. It returns the topics' IDs and end offsets.
func legacyDataDir(t *testing.T, dir string) (ids map[string]kadm.TopicID, ends map[string]map[int32]int64) {
	t.Helper()
	ctx := context.Background()
	tb := testbroker.Start(t, testbroker.Dir(dir))
	createTopic(t, tb.Addr(), "orders", 3, map[string]*string{"retention.ms": kadm.StringPtr("86400123"), "cleanup.policy": kadm.StringPtr("delete")})
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic("orders"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	for i := range 30 {
		if err := cl.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("order-%d", i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	if _, err := adm.CommitOffsets(ctx, "g1", kadm.OffsetsFromRecords(kgo.Record{Topic: "orders", Partition: 1, Offset: 6})); err != nil {
		t.Fatal(err)
	}
	td, err := adm.ListTopics(ctx, "orders", "__consumer_offsets")
	if err != nil || td.Error() != nil {
		t.Fatalf("list topics: %v %v", err, td.Error())
	}
	offsets, err := adm.ListEndOffsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	ids = map[string]kadm.TopicID{}
	reg := legacyRegistry{ClusterID: tb.Broker().ClusterID(), NextProducerID: 7000}
	for _, d := range td.Sorted() {
		ids[d.Topic] = d.ID
		tc := legacyRegistryTopic{Name: d.Topic, ID: base64.RawURLEncoding.EncodeToString(d.ID[:]), Partitions: int32(len(d.Partitions))}
		if d.Topic == "orders" {
			tc.Configs = map[string]string{"retention.ms": "86400123", "cleanup.policy": "delete"}
		} else {
			tc.Configs = map[string]string{"cleanup.policy": "compact", "segment.bytes": "104857600"}
		}
		reg.Topics = append(reg.Topics, tc)
	}
	ends = map[string]map[int32]int64{"orders": {}, "epochs": {0: 3}}
	offsets.Each(func(o kadm.ListedOffset) { ends[o.Topic][o.Partition] = o.Offset })
	tb.Stop()

	// The previous release had no metadata log and no meta.properties.
	for _, p := range []string{config.MetaPropertiesFile, quorum.MetadataDirName} {
		if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	l, err := log.Open(filepath.Join(dir, "epochs-0"), log.Config{SegmentBytes: 1 << 20, RetentionMs: -1, RetentionBytes: -1, MaxMessageBytes: 1 << 20, Delete: true}, log.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("k", "a"), record("k", "b"), record("k", "c")), 7); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	epochsID := kadm.TopicID{0x5e, 1, 2, 3, 4, 5, 6, 0x47, 0x88, 9, 10, 11, 12, 13, 14, 15}
	ids["epochs"] = epochsID
	reg.Topics = append(reg.Topics, legacyRegistryTopic{Name: "epochs", ID: base64.RawURLEncoding.EncodeToString(epochsID[:]), Partitions: 1})
	data, err := json.MarshalIndent(reg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gregor-topics.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return ids, ends
}

func TestPreviousReleaseDataDirUpgradesWithTopicsOffsetsAndGroupsIntact(t *testing.T) {
	dir := t.TempDir()
	ids, ends := legacyDataDir(t, dir)
	clusterID := func() string {
		data, err := os.ReadFile(filepath.Join(dir, "gregor-topics.json"))
		if err != nil {
			t.Fatal(err)
		}
		var reg legacyRegistry
		if err := json.Unmarshal(data, &reg); err != nil {
			t.Fatal(err)
		}
		return reg.ClusterID
	}()

	tb := testbroker.Start(t, testbroker.Dir(dir))
	ctx := context.Background()
	check := func(stage string) {
		t.Helper()
		cl := newClient(t, tb.Addr(), kgo.ConsumeTopics("orders", "epochs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		adm := kadm.NewClient(cl)
		if got := tb.Broker().ClusterID(); got != clusterID {
			t.Fatalf("%s: cluster ID %s, want the registry's %s", stage, got, clusterID)
		}
		td, err := adm.ListTopics(ctx, "orders", "epochs", "__consumer_offsets")
		if err != nil || td.Error() != nil {
			t.Fatalf("%s: list topics: %v %v", stage, err, td.Error())
		}
		for name, id := range ids {
			if d := td[name]; d.ID != id {
				t.Fatalf("%s: topic %s has ID %v, want %v from the registry", stage, name, d.ID, id)
			}
		}
		if n := len(td["orders"].Partitions); n != 3 {
			t.Fatalf("%s: orders has %d partitions, want 3", stage, n)
		}
		if p := td["epochs"].Partitions[0]; p.LeaderEpoch < 7 {
			t.Fatalf("%s: epochs-0 led at epoch %d, below the log's 7", stage, p.LeaderEpoch)
		}
		if v, _ := configValue(t, adm, "orders", "retention.ms"); v != "86400123" {
			t.Fatalf("%s: orders retention.ms %q, want the registry's 86400123", stage, v)
		}
		got, err := adm.ListEndOffsets(ctx, "orders", "epochs")
		if err != nil {
			t.Fatal(err)
		}
		got.Each(func(o kadm.ListedOffset) {
			if want := ends[o.Topic][o.Partition]; o.Offset != want || o.Err != nil {
				t.Fatalf("%s: %s-%d end offset %d (%v), want %d", stage, o.Topic, o.Partition, o.Offset, o.Err, want)
			}
		})
		committed, err := adm.FetchOffsets(ctx, "g1")
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := committed.Lookup("orders", 1); !ok || o.At != 7 {
			t.Fatalf("%s: g1's committed offset on orders-1 is %+v, want 7 (record 6 consumed)", stage, o)
		}
		want := int(ends["orders"][0] + ends["orders"][1] + ends["orders"][2] + ends["epochs"][0])
		seen := 0
		testutil.CheckFor(t, 10*time.Second, time.Millisecond, func() error {
			pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			fs := cl.PollFetches(pctx)
			fs.EachError(func(topic string, p int32, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("%s: fetch %s-%d: %v", stage, topic, p, err)
				}
			})
			seen += fs.NumRecords()
			if seen < want {
				return fmt.Errorf("%s: consumed %d of %d records", stage, seen, want)
			}
			return nil
		})
		// New records continue each log's offsets, and producer IDs continue past the registry's.
		pcl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic("epochs"))
		r := kgo.StringRecord("after " + stage)
		if err := pcl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("%s: produce: %v", stage, err)
		}
		if r.Offset != ends["epochs"][0] || r.ProducerID < 7000 {
			t.Fatalf("%s: produced at offset %d with producer ID %d, want offset %d and an ID from 7000", stage, r.Offset, r.ProducerID, ends["epochs"][0])
		}
		ends["epochs"][0]++
	}
	check("upgrade")
	if _, err := os.Stat(filepath.Join(dir, "gregor-topics.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("gregor-topics.json after the upgrade: %v, want it renamed", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gregor-topics.json.migrated")); err != nil {
		t.Fatal(err)
	}
	if _, err := config.ReadMetaProperties(dir); err != nil {
		t.Fatalf("the upgraded dir is not formatted: %v", err)
	}
	tb.Restart()
	check("restart")

	// A start that stopped after the import but before the rename finds the registry again: it is
	// not imported a second time (the metadata log holds topics), only renamed.
	tb.Stop()
	if err := os.Rename(filepath.Join(dir, "gregor-topics.json.migrated"), filepath.Join(dir, "gregor-topics.json")); err != nil {
		t.Fatal(err)
	}
	tb.StartStopped()
	check("registry found again")
	if _, err := os.Stat(filepath.Join(dir, "gregor-topics.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("gregor-topics.json after a second start with it: %v, want it renamed", err)
	}
}
