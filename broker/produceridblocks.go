package broker

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Producer IDs on a KRaft broker (Kafka's RPCProducerIdManager): the broker hands out IDs from a
// block the active controller allocated to it with AllocateProducerIds (blocks of 1000, recorded in
// the metadata log as ProducerIdsRecord), so no two brokers, and no two incarnations of one broker,
// hand out the same ID. Broker.nextProducerID and producerIDLimit (under Broker.mu) are the current
// block; nothing is persisted locally.

// producerIDBlockTimeout bounds one InitProducerId's wait for a new block.
const producerIDBlockTimeout = 5 * time.Second

// allocateProducerIDFromController hands out the next ID of the current block, fetching a new block
// from the controller when it is used up. Errors are retriable for the client
// (COORDINATOR_LOAD_IN_PROGRESS, as Kafka answers while its block is on the way).
//
// NB: concurrent callers that find the block used up each ask for one; a block that arrives while
// another is current is dropped. Wasting IDs is safe, handing one out twice is not.
func (b *Broker) allocateProducerIDFromController() (int64, error) {
	return b.nextProducerIDFrom(func() error {
		start, n, err := b.fetchProducerIDBlock()
		if err != nil {
			return err
		}
		b.mu.Lock()
		if b.nextProducerID >= b.producerIDLimit {
			b.nextProducerID, b.producerIDLimit = start, start+int64(n)
		}
		b.mu.Unlock()
		return nil
	}, apiErr(kerr.CoordinatorLoadInProgress, "producer id blocks were used up as fast as they arrived"))
}

// fetchProducerIDBlock asks the active controller for a new block of producer IDs.
func (b *Broker) fetchProducerIDBlock() (start int64, n int32, err error) {
	epoch := b.controllerBrokerEpoch()
	if epoch < 0 {
		return 0, 0, apiErr(kerr.CoordinatorLoadInProgress, "this broker is not registered with the controller yet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), producerIDBlockTimeout)
	defer cancel()
	req := kmsg.NewPtrAllocateProducerIDsRequest()
	req.BrokerID, req.BrokerEpoch = b.cfg.NodeID, epoch
	raw, err := b.kraft.client.Send(ctx, req)
	if err != nil {
		return 0, 0, apiErr(kerr.CoordinatorLoadInProgress, "AllocateProducerIds: %v", err)
	}
	resp := raw.(*kmsg.AllocateProducerIDsResponse)
	if resp.ErrorCode != 0 {
		return 0, 0, apiErr(kerr.CoordinatorLoadInProgress, "AllocateProducerIds: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	if resp.ProducerIDLen <= 0 || resp.ProducerIDStart < 0 {
		return 0, 0, apiErr(kerr.UnknownServerError, "AllocateProducerIds answered the block [%d, +%d)", resp.ProducerIDStart, resp.ProducerIDLen)
	}
	b.logger.Info("producer id block allocated", "start", resp.ProducerIDStart, "length", resp.ProducerIDLen)
	return resp.ProducerIDStart, resp.ProducerIDLen, nil
}
