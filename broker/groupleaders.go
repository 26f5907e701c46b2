package broker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/group"
	"github.com/gregor-streams/gregor/broker/metadata"
	replication "github.com/gregor-streams/gregor/broker/partition"
)

// Group coordinators on a KRaft broker (issue 10, "group coordinators move with the leadership of
// __consumer_offsets partitions"), as Kafka's GroupMetadataManager:
//
//   - After the image applier applied an image (so the partitions' roles are the image's), it calls
//     imageApplied, which records the offsets partitions led here with their leader epochs and
//     wakes the driver. No I/O: the applier's goroutine must not wait.
//   - The driver (reconcile) unloads the coordinator of every partition no longer led here, or led
//     in another epoch: requests waiting in a join or sync phase are answered NOT_COORDINATOR and
//     later ones too. For every partition newly led it starts a loader and answers the partition's
//     groups COORDINATOR_LOAD_IN_PROGRESS meanwhile.
//   - A loader waits until the partition is leader in that epoch and its high watermark has
//     reached the offset at which the epoch began (everything the previous leader may have
//     acknowledged is committed), replays the records below the high watermark into a new
//     coordinator, and hands it to the driver, which installs it if the partition is still led in
//     that epoch.
//   - The coordinator's writes go through the partition's append path with acks=all, in the epoch
//     it was loaded in (offsetsStore): a write after leadership moved fails with NOT_COORDINATOR.
//   - A topic the image deletes loses its committed offsets in every loaded coordinator (their
//     tombstones are written), so a topic created again under the name starts without them.
//
// FindCoordinator answers the image's leader of the group's offsets partition, and asks the
// controller to create __consumer_offsets (offsets.topic.num.partitions,
// offsets.topic.replication.factor) when the image has none, answering COORDINATOR_NOT_AVAILABLE
// until it exists.

// imageApplied records which offsets partitions u's image has this broker lead, and the topics it
// deleted (their committed offsets are deleted, as Kafka's onPartitionsDeleted). Called by the image
// applier after it applied the image to the partitions; quick, no I/O.
func (d *groupDriver) imageApplied(u metadata.Update) {
	img := u.Image
	var deleted []string
	if u.Changes != nil {
		for _, t := range u.Changes.DeletedTopics {
			deleted = append(deleted, t.Name)
		}
	}
	led := map[int32]int32{}
	var n int32
	if t := img.Topic(offsetsTopic); t != nil {
		n = int32(t.NumPartitions())
		for _, p := range t.Partitions() {
			if p.Leader == d.b.cfg.NodeID {
				led[p.ID] = p.LeaderEpoch
			}
		}
	}
	d.mu.Lock()
	changed := n != d.mu.partitions || !maps.Equal(led, d.mu.led) || len(deleted) > 0
	d.mu.led, d.mu.partitions = led, n
	d.mu.deletedTopics = append(d.mu.deletedTopics, deleted...)
	d.mu.Unlock()
	if changed {
		d.poke()
	}
}

// poke wakes run to reconcile the coordinators with mu.led.
func (d *groupDriver) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// leads reports whether the newest image applied has this broker lead offsets partition index
// in leaderEpoch.
func (d *groupDriver) leads(index, leaderEpoch int32) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.mu.led[index]
	return ok && e == leaderEpoch
}

// reconcile unloads the coordinators of partitions no longer led here (or led in another epoch)
// and starts loading the newly led ones. Run's alone.
func (d *groupDriver) reconcile() {
	d.mu.Lock()
	led := maps.Clone(d.mu.led)
	n := d.mu.partitions
	deleted := d.mu.deletedTopics
	d.mu.deletedTopics = nil
	d.mu.Unlock()
	for _, topic := range deleted {
		for _, s := range d.shards {
			if s.coord == nil {
				continue // NB: a partition still loading keeps offsets of a topic deleted meanwhile
			}
			if removed := s.coord.DeleteTopicOffsets(topic); removed > 0 {
				d.b.logger.Info("deleted the committed offsets of a deleted topic", "topic", topic, "offsets", removed)
			}
		}
	}
	for index, s := range d.shards {
		if e, ok := led[index]; ok && e == s.leaderEpoch {
			continue
		}
		delete(d.shards, index)
		if s.coord != nil {
			groups := s.coord.Groups()
			s.coord.Unload()
			d.b.logger.Info("unloaded consumer groups: no longer the leader", "partition", index, "leader_epoch", s.leaderEpoch, "groups", groups)
		}
	}
	for index, epoch := range led {
		if d.shards[index] != nil {
			continue
		}
		select {
		case <-d.b.stop:
			return
		default:
		}
		d.shards[index] = &groupShard{leaderEpoch: epoch}
		d.b.wg.Add(1)
		go d.load(index, epoch, n)
	}
}

// errLoadCancelled ends a load whose partition is no longer led here in its epoch.
var errLoadCancelled = errors.New("broker: leadership moved while loading")

// loadRetryBackoff is how long a failed load waits before the next attempt.
const loadRetryBackoff = time.Second

// load loads offsets partition index's groups for leader epoch epoch and hands them to run.
func (d *groupDriver) load(index, epoch, partitions int32) {
	defer d.b.wg.Done()
	start := time.Now()
	coord, records, err := d.loadLed(index, epoch, partitions)
	install := func(now time.Time) {
		s := d.shards[index]
		if s == nil || s.leaderEpoch != epoch || s.coord != nil {
			if coord != nil {
				coord.Unload()
			}
			return
		}
		if err != nil {
			delete(d.shards, index)
			if !errors.Is(err, errLoadCancelled) {
				d.b.repeats.Error("loading consumer groups failed; retrying", "partition", index, "leader_epoch", epoch, "err", err)
				time.AfterFunc(loadRetryBackoff, d.poke)
			}
			return
		}
		s.coord = coord
		d.b.logger.Info("loaded consumer groups: now the leader", "partition", index, "leader_epoch", epoch,
			"groups", coord.Groups(), "records", records, "took", time.Since(start).Round(time.Millisecond))
	}
	select {
	case d.ops <- install:
	case <-d.b.stop:
	}
}

// loadLed waits until this broker leads offsets partition index in epoch with everything of
// earlier epochs committed, then loads its groups up to the high watermark.
func (d *groupDriver) loadLed(index, epoch, partitions int32) (*group.Coordinator, int, error) {
	w := replication.NewFetchWaiter()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if !d.leads(index, epoch) {
			return nil, 0, errLoadCancelled
		}
		_, p := d.b.lookup(offsetsTopic, index)
		if p != nil {
			snap := p.state.Snapshot()
			if snap.LeaderEpoch > epoch {
				return nil, 0, errLoadCancelled
			}
			if snap.Role == replication.RoleLeader && snap.LeaderEpoch == epoch && snap.HighWatermark >= snap.EpochStartOffset {
				return d.b.loadGroups(p, partitions, snap.HighWatermark, offsetsStore{b: d.b, leaderEpoch: epoch})
			}
			// NB: a high watermark advance wakes the waiter; the timer catches a role change.
			p.state.Watch(w, snap.HighWatermark, snap.LogEndOffset)
		}
		timer.Reset(50 * time.Millisecond)
		select {
		case <-w.C():
		case <-timer.C:
		case <-d.b.stop:
			if p != nil {
				p.state.Unwatch(w)
			}
			return nil, 0, errStopping
		}
		if p != nil {
			p.state.Unwatch(w)
		}
	}
}

// groupCoordinatorNode is the broker coordinating groupID: the image's leader of the group's offsets
// partition (this broker itself before it has an image). code is the error to answer when
// there is none now: COORDINATOR_NOT_AVAILABLE while the offsets topic is being created or the
// partition has no leader.
func (b *Broker) groupCoordinatorNode(groupID string) (ep brokerEndpoint, code int16, msg *string) {
	img := b.MetadataImage()
	if img == nil {
		return brokerEndpoint{nodeID: b.cfg.NodeID, host: b.advHost, port: b.advPort}, 0, nil
	}
	t := img.Topic(offsetsTopic)
	if t == nil || t.NumPartitions() == 0 {
		b.createOffsetsTopic()
		return ep, kerr.CoordinatorNotAvailable.Code, errMsg("the offsets topic " + offsetsTopic + " is being created")
	}
	index := group.PartitionFor(groupID, int32(t.NumPartitions()))
	p := t.Partition(index)
	if p == nil || p.Leader < 0 {
		return ep, kerr.CoordinatorNotAvailable.Code, errMsg(fmt.Sprintf("%s-%d has no leader", offsetsTopic, index))
	}
	for _, e := range b.aliveBrokers() {
		if e.nodeID == p.Leader {
			return e, 0, nil
		}
	}
	return ep, kerr.CoordinatorNotAvailable.Code, errMsg(fmt.Sprintf("the leader %d of %s-%d is not available", p.Leader, offsetsTopic, index))
}

// offsetsTopicCreateTimeout bounds one CreateTopics of the offsets topic sent to the controller.
const offsetsTopicCreateTimeout = 10 * time.Second

// createOffsetsTopic asks the active controller, once at a time and without waiting, to create
// __consumer_offsets with offsets.topic.num.partitions and offsets.topic.replication.factor, as
// Kafka's FindCoordinator does for the first group.
func (b *Broker) createOffsetsTopic() {
	kn := b.kraft
	if kn == nil || kn.client == nil {
		return
	}
	d := b.groups
	d.mu.Lock()
	if d.mu.creating {
		d.mu.Unlock()
		return
	}
	d.mu.creating = true
	d.mu.Unlock()
	select {
	case <-b.stop:
		return
	default:
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer func() {
			d.mu.Lock()
			d.mu.creating = false
			d.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), offsetsTopicCreateTimeout)
		defer cancel()
		go func() {
			select {
			case <-b.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := b.sendCreateOffsetsTopic(ctx); err != nil {
			b.repeats.Warn("creating the offsets topic failed", "topic", offsetsTopic,
				"replication_factor", b.cfg.KRaft.OffsetsTopicReplicationFactor, "partitions", b.cfg.OffsetsTopicPartitions, "err", err)
		}
	}()
}

// sendCreateOffsetsTopic has the active controller create __consumer_offsets (an existing one is no
// error) and logs its creation.
func (b *Broker) sendCreateOffsetsTopic(ctx context.Context) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = int32(offsetsTopicCreateTimeout.Milliseconds())
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = offsetsTopic
	rt.NumPartitions = b.cfg.OffsetsTopicPartitions
	rt.ReplicationFactor = b.cfg.KRaft.OffsetsTopicReplicationFactor
	for k, v := range map[string]string{
		"cleanup.policy":   "compact",
		"segment.bytes":    strconv.FormatInt(b.cfg.OffsetsTopicSegmentBytes, 10),
		"compression.type": "producer",
	} {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := b.kraft.client.Send(ctx, req)
	if err != nil {
		return err
	}
	ct := resp.(*kmsg.CreateTopicsResponse).Topics
	if len(ct) == 1 && ct[0].ErrorCode == kerr.TopicAlreadyExists.Code {
		return nil
	}
	if len(ct) == 1 && ct[0].ErrorCode != 0 {
		return fmt.Errorf("%w: %s", kerr.ErrorForCode(ct[0].ErrorCode), derefOr(ct[0].ErrorMessage))
	}
	b.logger.Info("created the offsets topic", "topic", offsetsTopic, "replication_factor", rt.ReplicationFactor, "partitions", rt.NumPartitions)
	return nil
}

// prepareGroupCoordinators creates __consumer_offsets if the image has none and waits until the
// coordinator of every offsets partition led here is loaded, so a single node answers its first
// FindCoordinator and group request at once, as before it was a quorum. groups.run must be running.
func (b *Broker) prepareGroupCoordinators(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, offsetsTopicCreateTimeout)
	defer cancel()
	if b.MetadataImage().Topic(offsetsTopic) == nil {
		if err := b.sendCreateOffsetsTopic(ctx); err != nil {
			return fmt.Errorf("create %s: %w", offsetsTopic, err)
		}
	}
	for {
		loaded, err := b.groups.loadedAll()
		if err != nil {
			return err
		}
		if loaded {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the coordinators of %s did not load: %w", offsetsTopic, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// loadedAll reports whether the image has an offsets topic, every partition of it is led here (a
// single node's case), and each has its coordinator loaded.
func (d *groupDriver) loadedAll() (bool, error) {
	d.mu.Lock()
	led, partitions := maps.Clone(d.mu.led), d.mu.partitions
	d.mu.Unlock()
	loaded := partitions > 0 && len(led) == int(partitions)
	err := d.do(func(time.Time) {
		for index := range led {
			if s := d.shards[index]; s == nil || s.coord == nil {
				loaded = false
			}
		}
	})
	return loaded, err
}

func derefOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
