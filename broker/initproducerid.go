package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// InitProducerId v0-5.
	register(22, 0, 5, func(b *Broker, _ *server.Conn, r *kmsg.InitProducerIDRequest) server.Response {
		return server.Response{Msg: b.handleInitProducerID(r)}
	})
}

func (b *Broker) handleInitProducerID(r *kmsg.InitProducerIDRequest) *kmsg.InitProducerIDResponse {
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if r.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		b.logger.Warn("transactional producer refused: transactions are not supported", "transactional_id", *r.TransactionalID)
		return resp
	}
	// An idempotent producer that already has an ID may ask to bump its epoch (KIP-360).
	if r.ProducerID >= 0 && r.ProducerEpoch >= 0 {
		if r.ProducerEpoch >= 32766 {
			// Epoch exhausted: hand out a fresh producer ID instead.
		} else {
			resp.ProducerID, resp.ProducerEpoch = r.ProducerID, r.ProducerEpoch+1
			return resp
		}
	}
	id, err := b.allocateProducerIDFromController() // produceridblocks.go
	if err != nil {
		resp.ErrorCode = codeFor(err)
		b.repeats.Warn("allocating a producer id block from the controller failed", "err", err)
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}

// nextProducerIDFrom hands out the next ID of the current block (Broker.nextProducerID below
// producerIDLimit), calling refill when it is used up, a bounded number of times (then exhausted).
func (b *Broker) nextProducerIDFrom(refill func() error, exhausted error) (int64, error) {
	for range 8 {
		b.mu.Lock()
		if b.nextProducerID < b.producerIDLimit {
			id := b.nextProducerID
			b.nextProducerID++
			b.mu.Unlock()
			return id, nil
		}
		b.mu.Unlock()
		if err := refill(); err != nil {
			return -1, err
		}
	}
	return -1, exhausted
}
