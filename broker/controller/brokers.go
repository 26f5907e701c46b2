package controller

import (
	"time"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// nextBrokerEpoch returns an epoch larger than any broker epoch so far. NB: Kafka uses the offset of the
// registration record; the offset is not known before the quorum appends, so the epoch is derived from
// the image instead (deterministic, and monotonic across controller failover because it only depends on
// the log).
func (c *Controller) nextBrokerEpoch() int64 {
	epoch := max(c.committed.Offset(), 0)
	for _, b := range c.img().Brokers() {
		epoch = max(epoch, b.Epoch)
	}
	return epoch + 1
}

func (c *Controller) registerBroker(now time.Time, req *kmsg.BrokerRegistrationRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrBrokerRegistrationResponse()
	resp.BrokerEpoch = -1
	if c.cfg.ClusterID != "" && req.ClusterID != c.cfg.ClusterID {
		resp.ErrorCode = kerr.InconsistentClusterID.Code
		return resp, nil
	}
	if req.BrokerID < 0 {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	img := c.img()
	if cur := img.Broker(req.BrokerID); cur != nil {
		if cur.IncarnationID == metadata.Uuid(req.IncarnationID) {
			// A retry of a registration already made: same answer, nothing new to write.
			resp.BrokerEpoch = cur.Epoch
			return resp, nil
		}
		s := c.sessions[req.BrokerID]
		alive := !cur.Fenced && s != nil && now.Sub(s.lastContact) < c.cfg.SessionTimeout
		cleanRestart := req.PreviousBrokerEpoch >= 0 && req.PreviousBrokerEpoch == cur.Epoch
		if alive && !cleanRestart {
			resp.ErrorCode = kerr.DuplicateBrokerRegistration.Code
			return resp, nil
		}
		// The old incarnation is gone: it leads nothing and sits in no ISR from here on.
		if err := c.removeFromAll(req.BrokerID); err != nil {
			return nil, err
		}
	}
	rec := &metadata.RegisterBrokerRecord{
		BrokerID: req.BrokerID, IncarnationID: req.IncarnationID, BrokerEpoch: c.nextBrokerEpoch(),
		Rack: req.Rack, Fenced: true,
	}
	for _, l := range req.Listeners {
		rec.EndPoints = append(rec.EndPoints, metadata.EndPoint{
			Name: l.Name, Host: l.Host, Port: l.Port, SecurityProtocol: l.SecurityProtocol,
		})
	}
	if err := c.emit(rec); err != nil {
		return nil, err
	}
	s := c.session(req.BrokerID)
	s.lastContact = now
	s.registeredAt = -1
	s.shutdownAt = -1
	resp.BrokerEpoch = rec.BrokerEpoch
	return resp, nil
}

// checkBrokerEpoch returns the error code for a request from broker id at epoch.
func (c *Controller) checkBrokerEpoch(id int32, epoch int64) int16 {
	b := c.img().Broker(id)
	if b == nil {
		return kerr.BrokerIDNotRegistered.Code
	}
	if b.Epoch != epoch {
		return kerr.StaleBrokerEpoch.Code
	}
	return 0
}

func (c *Controller) heartbeat(now time.Time, req *kmsg.BrokerHeartbeatRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrBrokerHeartbeatResponse()
	resp.IsFenced = true
	if code := c.checkBrokerEpoch(req.BrokerID, req.BrokerEpoch); code != 0 {
		resp.ErrorCode = code
		return resp, nil
	}
	b := c.img().Broker(req.BrokerID)
	s := c.session(req.BrokerID)
	s.lastContact = now
	caughtUp := s.registeredAt >= 0 && req.CurrentMetadataOffset >= s.registeredAt
	resp.IsCaughtUp = caughtUp

	switch {
	case b.Fenced:
		switch {
		case req.WantShutdown:
			resp.ShouldShutdown = true
		case !req.WantFence && caughtUp:
			if err := c.unfence(b); err != nil {
				return nil, err
			}
			resp.IsFenced = false
		}
	case req.WantFence:
		if err := c.fence(b.ID); err != nil {
			return nil, err
		}
	case req.WantShutdown || b.InControlledShutdown:
		resp.IsFenced = false
		if !b.InControlledShutdown {
			if err := c.enterControlledShutdown(b); err != nil {
				return nil, err
			}
			break
		}
		// Leadership has moved away; once the broker has seen that, it may stop.
		if len(c.img().PartitionsLedBy(b.ID)) == 0 && s.shutdownAt >= 0 && req.CurrentMetadataOffset >= s.shutdownAt {
			if err := c.fence(b.ID); err != nil {
				return nil, err
			}
			resp.IsFenced = true
			resp.ShouldShutdown = true
		}
	default:
		resp.IsFenced = false
	}
	return resp, nil
}

func (c *Controller) unfence(b *metadata.Broker) error {
	if err := c.emit(&metadata.BrokerRegistrationChangeRecord{BrokerID: b.ID, BrokerEpoch: b.Epoch, Fenced: -1}); err != nil {
		return err
	}
	return c.electLeaderless()
}

// fence marks brokers fenced, then takes each out of every ISR and leadership. NB: all the fence records
// come first, so that a partition losing several brokers at once elects none of them (Kafka fences one
// stale broker per pass for the same reason); brokers apply a batch as a whole, so the order inside it
// is invisible to them.
func (c *Controller) fence(ids ...int32) error {
	for _, id := range ids {
		b := c.img().Broker(id)
		if err := c.emit(&metadata.BrokerRegistrationChangeRecord{BrokerID: id, BrokerEpoch: b.Epoch, Fenced: 1}); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if err := c.removeFromAll(id); err != nil {
			return err
		}
	}
	return nil
}

// enterControlledShutdown marks the broker shutting down and moves its leadership and ISR memberships
// to other brokers (Kafka's handleBrokerInControlledShutdown).
func (c *Controller) enterControlledShutdown(b *metadata.Broker) error {
	if err := c.emit(&metadata.BrokerRegistrationChangeRecord{BrokerID: b.ID, BrokerEpoch: b.Epoch, InControlledShutdown: 1}); err != nil {
		return err
	}
	c.session(b.ID).shutdownAt = -1
	return c.removeFromAll(b.ID)
}

// fenceExpired fences every unfenced broker whose last heartbeat is older than the session timeout.
func (c *Controller) fenceExpired(now time.Time) error {
	var expired []int32
	for _, b := range c.img().Brokers() {
		if b.Fenced {
			continue
		}
		s := c.session(b.ID)
		if s.lastContact.IsZero() {
			s.lastContact = now
			continue
		}
		if now.Sub(s.lastContact) >= c.cfg.SessionTimeout {
			expired = append(expired, b.ID)
		}
	}
	return c.fence(expired...)
}
