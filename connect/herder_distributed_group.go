package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is the distributed herder's group membership: the driver loop, heartbeats, and one
// rebalance (JoinGroup, the leader's assignment, SyncGroup).

// run is the driver: it joins the group, applies assignments, and reconciles what runs here with
// the config topic whenever something changes.
func (d *Distributed) run(ctx context.Context) {
	statusTick := time.NewTicker(250 * time.Millisecond)
	defer statusTick.Stop()
	var rejoinAt *time.Timer
	defer func() {
		if rejoinAt != nil {
			rejoinAt.Stop()
		}
	}()
	var rejoinC <-chan time.Time
	for ctx.Err() == nil {
		d.mu.Lock()
		need := d.mu.needJoin
		d.mu.Unlock()
		if need {
			delay, err := d.joinAndSync(ctx)
			if err != nil {
				if ctx.Err() == nil {
					d.logger.Warn("rebalance failed; retrying", "group", d.cfg.GroupID, "err", err)
					sleepCtx(ctx, 250*time.Millisecond)
				}
				continue
			}
			if rejoinAt != nil {
				rejoinAt.Stop()
				rejoinC = nil
			}
			if delay > 0 {
				rejoinAt = time.NewTimer(delay)
				rejoinC = rejoinAt.C
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
			d.reconcile(ctx)
		case <-statusTick.C:
			d.publishTaskStatuses(ctx)
			d.publishActiveTopics(ctx)
		case <-rejoinC:
			rejoinC = nil
			d.mu.Lock()
			if d.mu.leader {
				d.requestRejoinLocked(false)
			}
			d.mu.Unlock()
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (d *Distributed) heartbeatLoop(ctx context.Context) {
	tick := time.NewTicker(d.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		d.mu.Lock()
		member, gen, synced := d.mu.memberID, d.mu.generation, d.mu.synced
		d.mu.Unlock()
		if !synced || member == "" {
			continue
		}
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group, req.Generation, req.MemberID = d.cfg.GroupID, gen, member
		hctx, cancel := context.WithTimeout(ctx, d.cfg.SessionTimeout)
		resp, err := req.RequestWith(hctx, d.group)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				d.logger.Debug("heartbeat failed", "err", err)
			}
			continue
		}
		switch err := kerr.ErrorForCode(resp.ErrorCode); {
		case err == nil:
		case errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.IllegalGeneration):
			d.mu.Lock()
			if d.mu.generation == gen {
				d.requestRejoinLocked(false)
			}
			d.mu.Unlock()
			d.nudge()
		case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.FencedInstanceID):
			d.mu.Lock()
			if d.mu.generation == gen {
				d.requestRejoinLocked(true)
			}
			d.mu.Unlock()
			d.nudge()
		default:
			d.logger.Warn("heartbeat", "err", err)
		}
	}
}

// joinAndSync runs one rebalance: JoinGroup, the leader's assignment, SyncGroup, then applies the
// assignment. It returns how long until the leader must rebalance again to hand out held work.
func (d *Distributed) joinAndSync(ctx context.Context) (delay time.Duration, err error) {
	// NB: the request to rejoin is consumed now, so one that arrives during this rebalance (a
	// heartbeat that sees the next one starting) is not lost; a failed rebalance asks again.
	d.mu.Lock()
	d.mu.joined, d.mu.synced, d.mu.needJoin = false, false, false
	member := d.mu.memberID
	d.mu.Unlock()
	defer func() {
		if err != nil {
			d.mu.Lock()
			d.mu.needJoin = true
			d.mu.Unlock()
		}
	}()
	meta, err := json.Marshal(memberMetadata{URL: d.url, ConfigOffset: d.configLog.position(), Owned: d.owned()})
	if err != nil {
		return 0, err
	}
	var join *kmsg.JoinGroupResponse
	for attempt := 0; ; attempt++ {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group = d.cfg.GroupID
		req.SessionTimeoutMillis = int32(d.cfg.SessionTimeout.Milliseconds())
		req.RebalanceTimeoutMillis = int32(d.cfg.RebalanceTimeout.Milliseconds())
		req.MemberID = member
		req.ProtocolType = "connect"
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = connectProtocol, meta
		req.Protocols = append(req.Protocols, p)
		resp, err := req.RequestWith(ctx, d.group)
		if err != nil {
			return 0, fmt.Errorf("join group %s: %w", d.cfg.GroupID, err)
		}
		jerr := kerr.ErrorForCode(resp.ErrorCode)
		switch {
		case jerr == nil:
			join = resp
		case errors.Is(jerr, kerr.MemberIDRequired) && attempt < 3:
			member = resp.MemberID
			continue
		case errors.Is(jerr, kerr.UnknownMemberID) && attempt < 3:
			member = ""
			continue
		default:
			if errors.Is(jerr, kerr.UnknownMemberID) {
				member = ""
			}
			d.mu.Lock()
			d.mu.memberID = member
			d.mu.Unlock()
			return 0, fmt.Errorf("join group %s: %w", d.cfg.GroupID, jerr)
		}
		break
	}
	member = join.MemberID
	leader := join.LeaderID == member
	d.mu.Lock()
	d.mu.memberID, d.mu.generation = member, join.Generation
	d.mu.Unlock()

	syncReq := kmsg.NewPtrSyncGroupRequest()
	syncReq.Group, syncReq.Generation, syncReq.MemberID = d.cfg.GroupID, join.Generation, member
	syncReq.ProtocolType, syncReq.Protocol = kmsg.StringPtr("connect"), kmsg.StringPtr(connectProtocol)
	summary := ""
	if leader {
		assignments, sum, err := d.assign(ctx, join)
		if err != nil {
			return 0, err
		}
		summary = sum
		for id, a := range assignments {
			sa := kmsg.NewSyncGroupRequestGroupAssignment()
			sa.MemberID, sa.MemberAssignment = id, a
			syncReq.GroupAssignment = append(syncReq.GroupAssignment, sa)
		}
	}
	resp, err := syncReq.RequestWith(ctx, d.group)
	if err != nil {
		return 0, fmt.Errorf("sync group %s: %w", d.cfg.GroupID, err)
	}
	if serr := kerr.ErrorForCode(resp.ErrorCode); serr != nil {
		if errors.Is(serr, kerr.UnknownMemberID) {
			d.mu.Lock()
			d.mu.memberID = ""
			d.mu.Unlock()
		}
		return 0, fmt.Errorf("sync group %s: %w", d.cfg.GroupID, serr)
	}
	d.mu.Lock()
	d.mu.synced = true
	d.mu.Unlock()
	var sa syncAssignment
	if err := json.Unmarshal(resp.MemberAssignment, &sa); err != nil {
		return 0, fmt.Errorf("sync group %s: undecodable assignment from the leader: %w", d.cfg.GroupID, err)
	}
	// Run only once the config the leader assigned from has been read here too.
	rctx, cancel := context.WithTimeout(ctx, d.cfg.RebalanceTimeout)
	defer cancel()
	for d.configLog.position() < sa.ConfigOffset {
		if err := d.configLog.readToEnd(rctx); err != nil {
			return 0, err
		}
	}
	d.mu.Lock()
	if d.mu.generation != join.Generation {
		d.mu.Unlock()
		return 0, errors.New("a newer rebalance started")
	}
	d.mu.leader, d.mu.leaderURL = leader, sa.LeaderURL
	d.mu.assignment = sa.Assignment.Assigned
	d.mu.assignor = AssignorState{Previous: sa.Previous, Lost: sa.Lost}
	if sa.LostDeadline > 0 {
		d.mu.assignor.LostDeadline = time.UnixMilli(sa.LostDeadline)
	}
	revoked := !sa.Assignment.Revoked.empty()
	d.mu.Unlock()
	if leader {
		d.lastAssigned = summary
	}
	d.logger.Info("joined group", "group", d.cfg.GroupID, "generation", join.Generation, "leader", leader,
		"connectors", sa.Assignment.Assigned.Connectors, "tasks", len(sa.Assignment.Assigned.Tasks),
		"revoked", len(sa.Assignment.Revoked.Connectors)+len(sa.Assignment.Revoked.Tasks), "delay", sa.Assignment.Delay)
	d.reconcile(ctx)
	d.mu.Lock()
	if revoked {
		// Revoked work is stopped: rejoin so it can be assigned elsewhere.
		d.requestRejoinLocked(false)
	} else if !d.mu.needJoin {
		d.mu.joined = true
		if !d.mu.everJoined {
			d.mu.everJoined = true
			close(d.firstJoin)
		}
	}
	d.mu.Unlock()
	return sa.Assignment.Delay, nil
}

// owned is the work running here, for JoinGroup metadata.
func (d *Distributed) owned() WorkAssignment {
	keys := map[workKey]bool{}
	for name := range d.running {
		keys[workKey{name, -1}] = true
	}
	for id := range d.tasks {
		keys[workKey{id.Connector, id.Task}] = true
	}
	return assignmentOf(keys)
}

// assign is the leader's part of a rebalance. It returns the encoded assignment of every member
// and the config summary it assigned from.
func (d *Distributed) assign(ctx context.Context, join *kmsg.JoinGroupResponse) (map[string][]byte, string, error) {
	rctx, cancel := context.WithTimeout(ctx, d.cfg.RebalanceTimeout)
	defer cancel()
	if err := d.configLog.readToEnd(rctx); err != nil {
		return nil, "", err
	}
	in := AssignorInput{Members: map[string]AssignorMember{}, Now: time.Now(), MaxDelay: d.cfg.ScheduledRebalanceMaxDelay}
	byURL := map[string]string{} // worker URL → member ID
	for _, m := range join.Members {
		var md memberMetadata
		if err := json.Unmarshal(m.ProtocolMetadata, &md); err != nil || md.URL == "" {
			d.logger.Warn("member sent undecodable metadata; it gets no work", "member", m.MemberID)
			continue
		}
		if _, dup := byURL[md.URL]; dup {
			d.logger.Warn("two members advertise the same URL; the second gets no work", "url", md.URL, "member", m.MemberID)
			continue
		}
		byURL[md.URL] = m.MemberID
		in.Members[md.URL] = AssignorMember{URL: md.URL, Owned: md.Owned}
	}
	d.mu.Lock()
	in.Connectors, in.Tasks = d.mu.config.work()
	summary := d.mu.config.workSummary()
	in.State = d.mu.assignor
	d.mu.Unlock()
	out := Assign(in)
	encoded := map[string][]byte{}
	deadline := int64(0)
	if !out.State.LostDeadline.IsZero() {
		deadline = out.State.LostDeadline.UnixMilli()
	}
	for _, m := range join.Members {
		sa := syncAssignment{LeaderURL: d.url, ConfigOffset: d.configLog.position(),
			Previous: out.State.Previous, Lost: out.State.Lost, LostDeadline: deadline}
		var md memberMetadata
		if json.Unmarshal(m.ProtocolMetadata, &md) == nil && byURL[md.URL] == m.MemberID {
			sa.Assignment = out.Assignments[md.URL]
		}
		b, err := json.Marshal(sa)
		if err != nil {
			return nil, "", err
		}
		encoded[m.MemberID] = b
	}
	return encoded, summary, nil
}
