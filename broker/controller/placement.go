package controller

import (
	"fmt"
	"slices"
)

// placement is a round-robin assignment of replicas to brokers (Kafka's rack-unaware assignment): the
// first replica of partition i goes to brokers[(start+i) % n], the others follow at a shift that grows
// every n partitions, so leaders and followers both spread evenly.
type placement struct {
	brokers []int32
	start   int
	shift   int
}

// newPlacement starts a placement over brokers (sorted) at a random start and shift.
func (c *Controller) newPlacement(brokers []int32) placement {
	p := placement{brokers: slices.Clone(brokers)}
	if n := len(brokers); n > 0 {
		p.start = c.rng.IntN(n)
		p.shift = c.rng.IntN(n)
	}
	return p
}

// assign returns the replicas of partition id (counting from 0 within the topic) with rf replicas.
func (p placement) assign(id int32, rf int) ([]int32, error) {
	n := len(p.brokers)
	if rf > n {
		return nil, fmt.Errorf("unable to replicate the partition %d time(s): the target replication factor of %d cannot be reached because only %d broker(s) are registered and unfenced", rf, rf, n)
	}
	first := (int(id) + p.start) % n
	shift := p.shift + int(id)/n
	replicas := []int32{p.brokers[first]}
	for j := 0; j < rf-1; j++ {
		replicas = append(replicas, p.brokers[(first+1+(shift+j)%(n-1))%n])
	}
	return replicas, nil
}
