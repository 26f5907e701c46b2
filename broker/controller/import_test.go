package controller_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/gregor-streams/gregor/broker/controller"
	"github.com/gregor-streams/gregor/broker/metadata"
)

// ImportTopics writes a previous single node's registry as it was (IDs, configs, partition counts,
// leader epochs, all on the importing node) plus the producer ID limit, and only into a metadata log
// without topics: a second import is refused and changes nothing.
func TestImportTopicsWritesTheRegistryOnceWithItsIDsAndEpochs(t *testing.T) {
	n, _ := startOneVoter(t)
	ctx := context.Background()
	orders := controller.ImportedTopic{Name: "orders", ID: metadata.Uuid{0x51, 1}, Configs: map[string]string{"retention.ms": "1000"}, LeaderEpochs: []int32{3, 0, 7}}
	offsets := controller.ImportedTopic{Name: "__consumer_offsets", ID: metadata.Uuid{0x52, 2}, LeaderEpochs: []int32{0, 0}}
	if err := n.ImportTopics(ctx, []controller.ImportedTopic{orders, offsets}, 5000); err != nil {
		t.Fatal(err)
	}
	img := n.CommittedImage()
	ot := img.Topic("orders")
	if ot == nil || ot.ID != orders.ID || ot.NumPartitions() != 3 {
		t.Fatalf("orders in the image: %+v, want ID %v and 3 partitions", ot, orders.ID)
	}
	for i, want := range orders.LeaderEpochs {
		p := ot.Partition(int32(i))
		if p.Leader != 1 || p.LeaderEpoch != want || !slices.Equal(p.Replicas, []int32{1}) || !slices.Equal(p.Isr, []int32{1}) {
			t.Fatalf("orders-%d: %+v, want led by 1 alone at epoch %d", i, p, want)
		}
	}
	if got := img.Configs(metadata.TopicResource("orders")); !maps.Equal(got, orders.Configs) {
		t.Fatalf("orders configs %v, want %v", got, orders.Configs)
	}
	if img.Topic("__consumer_offsets").NumPartitions() != 2 || img.NextProducerID() < 5000 {
		t.Fatalf("offsets topic %d partitions, next producer ID %d", img.Topic("__consumer_offsets").NumPartitions(), img.NextProducerID())
	}

	again := controller.ImportedTopic{Name: "other", ID: metadata.Uuid{0x53, 3}, LeaderEpochs: []int32{0}}
	if err := n.ImportTopics(ctx, []controller.ImportedTopic{again}, 0); !errors.Is(err, controller.ErrAlreadyImported) {
		t.Fatalf("a second import: %v, want ErrAlreadyImported", err)
	}
	if n.CommittedImage().Topic("other") != nil {
		t.Fatal("the refused import wrote a topic")
	}
}
