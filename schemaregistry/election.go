package schemaregistry

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The group protocol the instances join with, as Confluent's: protocol type "sr"; each member's
// metadata is its URL and eligibility, the group leader picks the primary and hands every member
// an assignment naming it.
const (
	electionProtocolType = "sr"
	electionProtocol     = "v0"
	electionHeartbeat    = time.Second
	electionSession      = 10 * time.Second
)

type memberMetadata struct {
	URL      string `json:"url"`
	Eligible bool   `json:"master_eligibility"`
}

type assignment struct {
	PrimaryURL    string `json:"master"`
	PrimaryMember string `json:"master_identity"`
	Error         int    `json:"error"`
}

// elector keeps this instance in the election group and knows the current primary. It speaks the
// group protocol directly with kmsg requests through a franz-go client (which finds the
// coordinator), because the group assigns no partitions: it only elects.
type elector struct {
	client *kgo.Client
	group  string
	meta   []byte
	logger *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu struct {
		sync.Mutex
		memberID   string
		primaryURL string
		self       bool
		known      bool
	}
}

func startElector(cfg *Config, url string) (*elector, error) {
	client, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.BootstrapServers...)}, cfg.ClientOptions...)...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &elector{client: client, group: cfg.GroupID, logger: cfg.Logger, cancel: cancel, done: make(chan struct{}),
		meta: mustJSON(memberMetadata{URL: url, Eligible: !cfg.NotLeaderEligible})}
	go e.run(ctx)
	return e, nil
}

// primary returns the primary's URL, whether it is this instance, and whether one is known.
func (e *elector) primary() (url string, self, known bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mu.primaryURL, e.mu.self, e.mu.known
}

func (e *elector) setPrimary(a *assignment, memberID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mu.memberID = memberID
	if a == nil || a.Error != 0 || a.PrimaryURL == "" {
		e.mu.known, e.mu.self, e.mu.primaryURL = false, false, ""
		return
	}
	e.mu.known, e.mu.primaryURL, e.mu.self = true, a.PrimaryURL, a.PrimaryMember == memberID
}

func (e *elector) run(ctx context.Context) {
	defer close(e.done)
	memberID := ""
	for ctx.Err() == nil {
		next, err := e.joinAndSync(ctx, memberID)
		memberID = next
		if err != nil && ctx.Err() == nil {
			e.logger.Debug("schema registry election", "err", err)
			e.setPrimary(nil, memberID)
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	e.setPrimary(nil, "")
}

// joinAndSync does one generation: join, sync, then heartbeat until a rebalance. It returns the
// member id to rejoin with.
func (e *elector) joinAndSync(ctx context.Context, memberID string) (string, error) {
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group = e.group
	join.MemberID = memberID
	join.SessionTimeoutMillis = int32(electionSession.Milliseconds())
	join.RebalanceTimeoutMillis = int32(electionSession.Milliseconds())
	join.ProtocolType = electionProtocolType
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = electionProtocol
	p.Metadata = e.meta
	join.Protocols = append(join.Protocols, p)
	resp, err := join.RequestWith(ctx, e.client)
	if err != nil {
		return memberID, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		switch err {
		case kerr.MemberIDRequired:
			return resp.MemberID, nil
		case kerr.UnknownMemberID:
			return "", err
		}
		return memberID, err
	}
	memberID = resp.MemberID

	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group = e.group
	sync.Generation = resp.Generation
	sync.MemberID = memberID
	sync.ProtocolType = kmsg.StringPtr(electionProtocolType)
	sync.Protocol = kmsg.StringPtr(electionProtocol)
	if resp.LeaderID == memberID {
		a := e.choosePrimary(memberID, resp.Members)
		for _, m := range resp.Members {
			ga := kmsg.NewSyncGroupRequestGroupAssignment()
			ga.MemberID = m.MemberID
			ga.MemberAssignment = mustJSON(a)
			sync.GroupAssignment = append(sync.GroupAssignment, ga)
		}
	}
	sresp, err := sync.RequestWith(ctx, e.client)
	if err != nil {
		return memberID, err
	}
	if err := kerr.ErrorForCode(sresp.ErrorCode); err != nil {
		if err == kerr.UnknownMemberID {
			return "", err
		}
		return memberID, err
	}
	var a assignment
	if err := json.Unmarshal(sresp.MemberAssignment, &a); err != nil {
		return memberID, err
	}
	e.setPrimary(&a, memberID)
	if a.Error == 0 {
		e.logger.Info("schema registry primary elected", "primary", a.PrimaryURL, "self", a.PrimaryMember == memberID)
	}
	return e.heartbeat(ctx, memberID, resp.Generation)
}

// choosePrimary is the group leader's decision: the current primary if it is still a member, else
// this leader if eligible, else the first eligible member by id.
func (e *elector) choosePrimary(leaderID string, members []kmsg.JoinGroupResponseMember) assignment {
	current, _, known := e.primary()
	type cand struct {
		id  string
		url string
	}
	var eligible []cand
	for _, m := range members {
		var md memberMetadata
		if json.Unmarshal(m.ProtocolMetadata, &md) != nil || !md.Eligible {
			continue
		}
		if known && md.URL == current {
			return assignment{PrimaryURL: md.URL, PrimaryMember: m.MemberID}
		}
		eligible = append(eligible, cand{m.MemberID, md.URL})
	}
	if len(eligible) == 0 {
		return assignment{Error: 1}
	}
	slices.SortFunc(eligible, func(a, b cand) int {
		switch {
		case a.id == leaderID:
			return -1
		case b.id == leaderID:
			return 1
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return assignment{PrimaryURL: eligible[0].url, PrimaryMember: eligible[0].id}
}

func (e *elector) heartbeat(ctx context.Context, memberID string, generation int32) (string, error) {
	t := time.NewTicker(electionHeartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			e.leave(memberID)
			return memberID, nil
		case <-t.C:
		}
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group = e.group
		hb.Generation = generation
		hb.MemberID = memberID
		resp, err := hb.RequestWith(ctx, e.client)
		if err != nil {
			continue // a transient error; the session timeout decides
		}
		switch err := kerr.ErrorForCode(resp.ErrorCode); err {
		case nil:
		case kerr.RebalanceInProgress:
			return memberID, nil
		case kerr.UnknownMemberID, kerr.IllegalGeneration, kerr.FencedInstanceID:
			return "", err
		default:
			return memberID, err
		}
	}
}

func (e *elector) leave(memberID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = e.group
	req.MemberID = memberID
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = memberID
	req.Members = append(req.Members, m)
	_, _ = req.RequestWith(ctx, e.client)
}

func (e *elector) close() {
	e.cancel()
	<-e.done
	e.client.Close()
}
