package broker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gregor-streams/gregor/broker/lifecycle"
	"github.com/gregor-streams/gregor/broker/metadata"
	replication "github.com/gregor-streams/gregor/broker/partition"
	"github.com/gregor-streams/gregor/broker/replica"
)

// imageApplier applies the metadata images a KRaft broker receives to the partitions assigned to it
// (issue 10, step 3): it opens or creates their logs, makes them leader or follower with the image's
// leader epoch, partition epoch, replicas and ISR, starts or stops their replica fetchers, and
// deletes the replicas the image takes away.
//
// NB: the publisher calls onUpdate on its own goroutine, which must never wait on disk I/O: onUpdate
// only queues the update; one applier goroutine (run) does the work, in image order.
//
// It also keeps the image's topics in the broker's topic registry (registry_kraft.go), through
// which the handlers serve them.
type imageApplier struct {
	b        *Broker
	node     int32
	replicas *replica.Manager
	leaders  *leaderClients
	client   *lifecycle.ControllerClient // sends AlterPartition
	// mgr is the lifecycle Manager (its broker epoch goes in AlterPartition); set once it started.
	mgr  atomic.Pointer[lifecycle.Manager]
	wake chan struct{} // capacity 1: run has updates to apply
	stop chan struct{}
	done chan struct{}
	mu   struct {
		sync.Mutex
		pending []metadata.Update
		// hosted are the partitions the images assigned here; written by run only.
		hosted map[topicPartition]*partition
		// applied is the newest image run has applied (nil before the first); appliedCh is closed
		// and replaced each time it changes (waitApplied).
		applied   *metadata.Image
		appliedCh chan struct{}
		// checkpointed are the high watermarks of replication-offset-checkpoint at start, for the
		// replicas not reopened yet (open takes them; checkpointHighWatermarks keeps the rest).
		checkpointed map[topicPartition]int64
	}
	// proposals counts AlterPartition sends in flight (alterpartition.go); close waits for them.
	proposals sync.WaitGroup
	// topics holds one topic per image topic ID with a replica here; run's alone.
	topics map[metadata.Uuid]*topic
	// straysChecked: the first image was applied and the log dirs swept of stray replicas
	// (stray.go); run's alone.
	straysChecked bool
}

func newImageApplier(b *Broker, pub *metadata.Publisher, client *lifecycle.ControllerClient) *imageApplier {
	// NB: read again (New read it to check it): a malformed checkpoint already
	// failed New, so an error here is a file that vanished or a disk failing now; the replicas then
	// start at their log start offset and learn the high watermark from their leader.
	checkpointed, err := b.readHighWatermarks()
	if err != nil {
		b.logger.Warn("reading the high-watermark checkpoint failed; image partitions start without it", "err", err)
		checkpointed = map[topicPartition]int64{}
	}
	lc := newLeaderClients(b, pub)
	a := &imageApplier{b: b, node: b.cfg.NodeID, wake: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{}), topics: map[metadata.Uuid]*topic{},
		leaders: lc, client: client}
	a.replicas = replica.NewManagerPerFetcher(b.replicaConfig(a.brokerEpoch), lc.dial)
	a.mu.hosted = map[topicPartition]*partition{}
	a.mu.appliedCh = make(chan struct{})
	a.mu.checkpointed = checkpointed
	go a.run()
	return a
}

// onUpdate is the publisher's callback: it queues u and wakes run.
func (a *imageApplier) onUpdate(u metadata.Update) {
	a.mu.Lock()
	a.mu.pending = append(a.mu.pending, u)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *imageApplier) run() {
	defer close(a.done)
	// NB: each led partition checks its followers' lag every replica.lag.time.max.ms / 2 (Kafka's
	// isr-expiration task); a shrink is a proposal sent to the controller (alterpartition.go).
	tick := time.NewTicker(max(time.Duration(a.b.cfg.KRaft.ReplicaLagTimeMaxMs)*time.Millisecond/2, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-tick.C:
			a.shrinkISRs()
			continue
		case <-a.wake:
		}
		a.mu.Lock()
		batch := a.mu.pending
		a.mu.pending = nil
		a.mu.Unlock()
		for _, u := range batch {
			select {
			case <-a.stop:
				return
			default:
			}
			a.apply(u)
			a.b.groups.imageApplied(u) // group coordinators follow __consumer_offsets leadership
		}
	}
}

// setApplied records img as applied and wakes waitApplied's waiters.
func (a *imageApplier) setApplied(img *metadata.Image) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mu.applied = img
	close(a.mu.appliedCh)
	a.mu.appliedCh = make(chan struct{})
}

// waitApplied waits until run has applied an image for which done is true, or ctx ends. done must
// be quick: it runs on the caller's goroutine once per applied image at most.
func (a *imageApplier) waitApplied(ctx context.Context, done func(*metadata.Image) bool) error {
	for {
		a.mu.Lock()
		img, ch := a.mu.applied, a.mu.appliedCh
		a.mu.Unlock()
		if img != nil && done(img) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// apply acts on one image's local changes, then wakes the requests waiting for it (waitApplied).
func (a *imageApplier) apply(u metadata.Update) {
	a.syncRegistry(u)
	local := u.Changes.Local(a.node)
	for _, pc := range local.Deleted {
		a.remove(pc)
	}
	for _, pc := range local.Leaders {
		if a.assign(u.Image, pc) != nil {
			a.replicas.Unfollow(replicaTP(pc))
		}
	}
	for _, pc := range local.Followers {
		p := a.assign(u.Image, pc)
		if p == nil {
			continue
		}
		// NB: with no leader (NoLeader) the replica waits for the next image, fetching from nobody.
		if pc.Cur.Leader < 0 {
			a.replicas.Unfollow(replicaTP(pc))
			continue
		}
		if err := a.replicas.Follow(replicaTP(pc), pc.Cur.Leader, pc.Cur.LeaderEpoch, p.state, p.log); err != nil {
			a.b.logger.Warn("starting a replica fetcher failed", "topic", pc.TopicName, "partition", pc.Partition,
				"leader", pc.Cur.Leader, "err", err)
		}
	}
	for _, pc := range local.IsrOnly {
		a.assign(u.Image, pc)
	}
	for _, pc := range followerISRChanges(u.Changes, a.node) { // replicas.go
		a.assign(u.Image, pc)
	}
	if !a.straysChecked {
		a.straysChecked = true
		a.deleteStrays(u.Image)
	}
	a.setApplied(u.Image)
}

// replicaTP names pc for the replica fetchers.
func replicaTP(pc metadata.PartitionChange) replica.TopicPartition {
	return replica.TopicPartition{Topic: pc.TopicName, TopicID: pc.TopicID, Partition: pc.Partition}
}

// assign opens the partition if it is new here and applies the image's assignment; it returns the
// partition, or nil if it could not.
func (a *imageApplier) assign(img *metadata.Image, pc metadata.PartitionChange) *partition {
	tp := topicPartition{pc.TopicName, pc.Partition}
	a.mu.Lock()
	p := a.mu.hosted[tp]
	a.mu.Unlock()
	if p == nil {
		var err error
		if p, err = a.open(img, pc); err != nil {
			a.b.logger.Error("opening an assigned partition failed", "topic", pc.TopicName, "partition", pc.Partition, "err", err)
			return nil
		}
		a.mu.Lock()
		a.mu.hosted[tp] = p
		a.mu.Unlock()
		a.setSlot(p.topic, p.index, p)
	}
	cur := pc.Cur
	tr, err := p.state.ApplyAssignment(replication.Assignment{Leader: cur.Leader, LeaderEpoch: cur.LeaderEpoch,
		PartitionEpoch: cur.PartitionEpoch, Replicas: cur.Replicas, ISR: cur.Isr})
	if err != nil {
		a.b.logger.Warn("applying a partition assignment failed", "topic", pc.TopicName, "partition", pc.Partition,
			"leader", cur.Leader, "leader_epoch", cur.LeaderEpoch, "err", err)
		return nil
	}
	if tr.To == replication.RoleLeader && (tr.From != tr.To || tr.NewEpoch) {
		a.b.replicaWaits.becameLeader(pc.TopicName, pc.TopicID, pc.Partition, cur.Replicas, a.node, time.Now())
	}
	a.b.logger.Debug("partition assignment applied", "topic", pc.TopicName, "partition", pc.Partition,
		"from", tr.From, "to", tr.To, "leader", tr.Leader, "leader_epoch", tr.LeaderEpoch)
	return p
}

// open opens (or creates) the log of a partition assigned here.
func (a *imageApplier) open(img *metadata.Image, pc metadata.PartitionChange) (*partition, error) {
	t := a.topics[pc.TopicID]
	if t == nil {
		return nil, fmt.Errorf("topic %s (%s) is not in the registry", pc.TopicName, formatUUID(pc.TopicID))
	}
	tp := topicPartition{pc.TopicName, pc.Partition}
	return a.b.openReplica(t, pc.Partition, a.takeCheckpointedHighWatermark(tp), a.propose)
}

// remove stops and deletes a replica the image no longer assigns here.
func (a *imageApplier) remove(pc metadata.PartitionChange) {
	tp := topicPartition{pc.TopicName, pc.Partition}
	a.mu.Lock()
	p := a.mu.hosted[tp]
	delete(a.mu.hosted, tp)
	a.mu.Unlock()
	a.takeCheckpointedHighWatermark(tp)
	if p == nil {
		return
	}
	a.setSlot(p.topic, p.index, nil)
	a.replicas.Unfollow(replicaTP(pc))
	if err := p.log.Delete(); err != nil {
		a.b.logger.Warn("deleting a removed partition failed", "topic", pc.TopicName, "partition", pc.Partition, "err", err)
	}
}

// hosted returns the partition the images assigned here, or nil.
func (a *imageApplier) hosted(topic string, p int32) *partition {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mu.hosted[topicPartition{topic, p}]
}

// close stops run and the replica fetchers, then closes the hosted partitions' logs (in parallel)
// and returns their errors. Call after the publisher stopped delivering (the Follower is closed).
func (a *imageApplier) close() error {
	if a == nil {
		return nil
	}
	close(a.stop)
	<-a.done
	a.proposals.Wait()
	a.replicas.Close()
	a.leaders.close()
	a.mu.Lock()
	defer a.mu.Unlock()
	parts := make([]*partition, 0, len(a.mu.hosted))
	for _, p := range a.mu.hosted {
		parts = append(parts, p)
	}
	a.mu.hosted = map[topicPartition]*partition{}
	return closePartitions(parts)
}
