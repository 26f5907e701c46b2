package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gregor-streams/gregor/broker/metadata"
)

// ImportedTopic is one topic of a single node's registry from before the metadata quorum (a previous
// release's gregor-topics.json), to be written to the metadata log as it was: same name and topic ID,
// every partition on the importing node alone.
type ImportedTopic struct {
	Name    string
	ID      metadata.Uuid
	Configs map[string]string
	// LeaderEpochs has one entry per partition: the latest leader epoch its log recorded (0 for none).
	LeaderEpochs []int32
}

// ErrAlreadyImported is returned by ImportTopics when the metadata log already holds topics: they
// were imported by an earlier start, or created since; nothing is proposed.
var ErrAlreadyImported = errors.New("controller: the metadata log already holds topics; nothing imported")

// importTopics writes topics to the metadata log as hosted by node alone (replicas and ISR {node},
// node leader at each partition's recorded leader epoch), with their configs, and the producer ID
// block past nextProducerID so no ID the registry may have handed out is handed out again. Only into
// a metadata log without topics (ErrAlreadyImported otherwise).
func (c *Controller) importTopics(node int32, topics []ImportedTopic, nextProducerID int64) error {
	if c.img().NumTopics() > 0 {
		return ErrAlreadyImported
	}
	for _, t := range topics {
		if err := validTopicName(t.Name); err != nil {
			return fmt.Errorf("import topic %q: %w", t.Name, err)
		}
		if t.ID.IsZero() || c.img().TopicByID(t.ID) != nil || c.img().Topic(t.Name) != nil {
			return fmt.Errorf("import topic %q: topic ID %v is zero or repeated, or the name is", t.Name, t.ID)
		}
		if err := c.emit(&metadata.TopicRecord{Name: t.Name, TopicID: t.ID}); err != nil {
			return err
		}
		for name, value := range t.Configs {
			if err := c.emit(&metadata.ConfigRecord{ResourceType: metadata.ResourceTopic, ResourceName: t.Name, Name: name, Value: strp(value)}); err != nil {
				return err
			}
		}
		for pid, epoch := range t.LeaderEpochs {
			rec := &metadata.PartitionRecord{
				PartitionID: int32(pid), TopicID: t.ID, Replicas: []int32{node}, Isr: []int32{node}, Leader: node,
				LeaderEpoch: max(epoch, 0), RemovingReplicas: []int32{}, AddingReplicas: []int32{},
			}
			if err := c.emit(rec); err != nil {
				return err
			}
		}
	}
	if nextProducerID > c.img().NextProducerID() {
		if err := c.emit(&metadata.ProducerIdsRecord{BrokerID: -1, BrokerEpoch: -1, NextProducerID: nextProducerID}); err != nil {
			return err
		}
	}
	return nil
}

// ImportTopics has the active controller write a single node's previous registry to the metadata log
// (see ImportedTopic) and returns once it committed. Errors: ErrAlreadyImported (nothing to do), a
// *NotControllerError while this node is not active yet, ErrNodeClosed, ctx's, or the failure that
// made the import impossible.
func (n *Node) ImportTopics(ctx context.Context, topics []ImportedTopic, nextProducerID int64) error {
	c := call{reply: make(chan callResult, 1), decide: func(ctl *Controller, _ time.Time) (Result, error) {
		if !ctl.active {
			return Result{}, ErrNotActive
		}
		ctl.begin()
		return ctl.finish(nil, ctl.importTopics(n.id, topics, nextProducerID))
	}}
	select {
	case n.calls <- c:
	case <-n.done:
		return ErrNodeClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case r := <-c.reply:
		return r.err
	case <-n.done:
		return ErrNodeClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}
