package metadata

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
)

// Loader is a broker's metadata loader: it turns committed batches (and snapshots) from the quorum into
// images and publishes them. It belongs to one goroutine, the one that drains the quorum's committed
// batches.
type Loader struct {
	pub   *Publisher
	delta *Delta
	// holding: applied images are kept, not published (Hold); held is the newest kept one.
	holding bool
	held    *Image
}

// Hold makes the loader apply batches and snapshots without publishing them until Release: a
// broker catching up on the metadata log after a start publishes the image it caught up to, not
// the states it passes through on the way (a leadership it held before it stopped, long since
// moved), as Kafka's metadata loader does.
func (l *Loader) Hold() { l.holding = true }

// Release ends a Hold: the newest image applied since is published, with every change since the
// last published one.
func (l *Loader) Release() {
	l.holding = false
	if l.held == nil {
		return
	}
	img := l.held
	l.held = nil
	l.pub.Publish(img, Diff(l.pub.Current(), img))
}

// publish publishes img with ch (its changes from the previous applied image), or keeps it while
// holding.
func (l *Loader) publish(img *Image, ch *Changes) {
	if l.holding {
		l.held = img
		return
	}
	l.pub.Publish(img, ch)
}

// base is the last image applied, published or held.
func (l *Loader) base() *Image {
	if l.held != nil {
		return l.held
	}
	return l.pub.Current()
}

// NewLoader starts a loader at the publisher's current image.
func NewLoader(pub *Publisher) *Loader {
	return &Loader{pub: pub, delta: NewDelta(pub.Current())}
}

// ApplyBatch decodes and replays one committed batch (raw records as quorum delivers them, at quorum
// index offset in epoch) and publishes the resulting image. A batch is published whole or not at all:
// on error nothing is published and the error (wrapping ErrCorruptRecord or ErrInconsistent) means the
// log cannot be applied — the broker must stop rather than serve a guess.
func (l *Loader) ApplyBatch(offset int64, epoch int32, raw [][]byte) error {
	recs, err := DecodeRecords(raw)
	if err != nil {
		return fmt.Errorf("metadata batch at offset %d: %w", offset, err)
	}
	for _, r := range recs {
		if err := l.delta.Replay(r); err != nil {
			l.delta = NewDelta(l.base())
			return fmt.Errorf("metadata batch at offset %d: %w", offset, err)
		}
	}
	img, ch := l.delta.Apply(offset, epoch)
	l.publish(img, ch)
	return nil
}

// LoadSnapshot replaces the state with a snapshot (AppendSnapshot bytes) and publishes it with the
// changes from the previous image.
func (l *Loader) LoadSnapshot(b []byte) error {
	img, err := ReadSnapshot(b)
	if err != nil {
		return err
	}
	l.delta = NewDelta(img)
	if l.holding {
		l.held = img
		return nil
	}
	l.pub.Publish(img, Diff(l.pub.Current(), img))
	return nil
}

// Diff returns what changed from prev to next, in the form a Delta reports it. It compares whole images
// (O(size)); loading a snapshot is the one place that needs it.
func Diff(prev, next *Image) *Changes {
	ch := &Changes{
		ProducerIDs: prev.nextProducerID != next.nextProducerID,
		Features:    !maps.Equal(prev.features, next.features),
	}
	for id, b := range next.brokers {
		if pb := prev.brokers[id]; pb == nil || !reflect.DeepEqual(pb, b) {
			ch.Brokers = append(ch.Brokers, id)
		}
	}
	slices.Sort(ch.Brokers)
	for _, t := range next.Topics() {
		pt := prev.topics[t.ID]
		if pt == nil {
			ch.CreatedTopics = append(ch.CreatedTopics, t)
		}
		for _, p := range t.Partitions() {
			var pp *Partition
			if pt != nil {
				pp = pt.partitions[p.ID]
			}
			if pp == nil || !reflect.DeepEqual(pp, p) {
				ch.Partitions = append(ch.Partitions, PartitionChange{TopicID: t.ID, TopicName: t.Name, Partition: p.ID, Prev: pp, Cur: p})
			}
		}
	}
	for _, t := range prev.Topics() {
		if next.topics[t.ID] != nil {
			continue
		}
		ch.DeletedTopics = append(ch.DeletedTopics, t)
		for _, p := range t.Partitions() {
			ch.Partitions = append(ch.Partitions, PartitionChange{TopicID: t.ID, TopicName: t.Name, Partition: p.ID, Prev: p})
		}
	}
	slices.SortFunc(ch.Partitions, comparePartitionChanges)
	seen := map[ConfigResource]bool{}
	for _, img := range []*Image{prev, next} {
		for r := range img.configs {
			if !seen[r] && !maps.Equal(prev.configs[r], next.configs[r]) {
				ch.Configs = append(ch.Configs, r)
			}
			seen[r] = true
		}
	}
	slices.SortFunc(ch.Configs, compareResources)
	return ch
}
