package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/quorum"
)

// locateTimeout bounds one round of DescribeQuorum to the voters (a voter that does not answer in time
// is left out of that round); a round also takes at most half of its caller's remaining time.
const locateTimeout = time.Second

// controllers sends Kafka-protocol requests to the controller quorum's voters on their controller
// listeners (one franz-go client per voter, created on first use) and remembers which one is active.
//
// When it does not know the active controller it asks every voter at once which node leads the
// quorum (DescribeQuorum) and follows the answer with the highest leader epoch. A voter that could not
// be reached is remembered with the epoch it was believed to lead: a voter that has not yet noticed
// the leader's death still names it, and that stale hint is skipped, so the search never goes back to
// a dead controller until a newer epoch names it.
type controllers struct {
	voters   []quorum.Voter
	clientID string

	mu struct {
		sync.Mutex
		clients map[int32]*kgo.Client
		// active is the voter believed to be the active controller, or quorum.NoLeader.
		active int32
		// epoch is the highest quorum leader epoch heard of (-1 if none).
		epoch int32
		// unreachable maps a voter that could not be reached to the leader epoch it was believed to
		// lead then: hints naming it in that epoch or an older one are stale.
		unreachable map[int32]int32
	}
}

func newControllers(voters []quorum.Voter, clientID string) *controllers {
	c := &controllers{voters: voters, clientID: clientID}
	c.mu.clients = map[int32]*kgo.Client{}
	c.mu.active = quorum.NoLeader
	c.mu.epoch = -1
	c.mu.unreachable = map[int32]int32{}
	return c
}

func (c *controllers) client(id int32) (*kgo.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.mu.clients[id]; cl != nil {
		return cl, nil
	}
	for _, v := range c.voters {
		if v.ID != id {
			continue
		}
		// NB: no retries inside franz-go: a voter that is down must send the next attempt elsewhere at once.
		cl, err := kgo.NewClient(kgo.SeedBrokers(v.Addr()), kgo.ClientID(c.clientID), kgo.RequestRetries(0), kgo.DialTimeout(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("controller %d at %s: %w", id, v.Addr(), err)
		}
		c.mu.clients[id] = cl
		return cl, nil
	}
	return nil, fmt.Errorf("node %d is not one of the voters in %s", id, quorum.VotersConfig)
}

// notActive forgets id as the active controller, taking hint (a leader another voter named in quorum
// epoch epoch, or quorum.NoLeader) instead unless the hint is stale.
func (c *controllers) notActive(id, hint, epoch int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.active != id && c.mu.active != quorum.NoLeader {
		return
	}
	c.mu.active = quorum.NoLeader
	if hint != quorum.NoLeader && c.usableLocked(hint, epoch) {
		c.mu.active = hint
		c.mu.epoch = max(c.mu.epoch, epoch)
	}
}

// unreachableVoter forgets id as the active controller because it could not be reached: hints naming
// it as leader in the newest epoch known are stale from now on.
func (c *controllers) unreachableVoter(id int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.unreachable[id] = max(c.mu.unreachable[id], c.mu.epoch)
	if c.mu.active == id {
		c.mu.active = quorum.NoLeader
	}
}

// usableLocked reports whether a hint naming leader in epoch is worth following.
func (c *controllers) usableLocked(leader, epoch int32) bool {
	if e, ok := c.mu.unreachable[leader]; ok && epoch <= e {
		return false
	}
	return epoch >= c.mu.epoch || epoch < 0
}

// known is the voter believed active, or quorum.NoLeader.
func (c *controllers) known() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.active
}

// setActive records that id answered as the active controller (or quorum leader).
func (c *controllers) setActive(id int32) {
	c.mu.Lock()
	c.mu.active = id
	delete(c.mu.unreachable, id)
	c.mu.Unlock()
}

// errNotController: the voter answered NOT_CONTROLLER (or could not be reached, or no quorum leader is
// known yet); retry, which goes to the active controller found meanwhile.
var errNotController = errors.New("lifecycle: not the active controller")

// target is the voter to send the next controller request to: the one believed active, else the
// quorum leader the voters name (locate).
func (c *controllers) target(ctx context.Context) (int32, error) {
	if id := c.known(); id != quorum.NoLeader {
		return id, nil
	}
	id := c.locate(ctx)
	if id == quorum.NoLeader {
		return id, fmt.Errorf("%w: no voter of %s names a reachable quorum leader (an election may be under way)", errNotController, quorum.VotersConfig)
	}
	return id, nil
}

// leaderAnswer is one voter's DescribeQuorum answer.
type leaderAnswer struct {
	leader, epoch int32
	// self: the voter answered as the quorum leader (no error), which no stale view can make up.
	self bool
}

// locate asks every voter at once which node leads the quorum and records the answer: a voter
// answering for itself is taken at once; otherwise the hint with the highest leader epoch that is not
// stale. It returns the leader found, or quorum.NoLeader.
func (c *controllers) locate(ctx context.Context) int32 {
	timeout := locateTimeout
	if deadline, ok := ctx.Deadline(); ok {
		// NB: half of the caller's time at most, so the request to the leader found still has time.
		timeout = min(timeout, time.Until(deadline)/2)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	answers := make(chan leaderAnswer, len(c.voters))
	var wg sync.WaitGroup
	for _, v := range c.voters {
		wg.Go(func() {
			cl, err := c.client(v.ID)
			if err != nil {
				return
			}
			a, err := describeQuorum(ctx, cl)
			if err != nil {
				// NB: cancelled because another voter answered for itself: not a sign of death.
				if !errors.Is(ctx.Err(), context.Canceled) {
					c.unreachableVoter(v.ID)
				}
				return
			}
			answers <- a
		})
	}
	go func() {
		wg.Wait()
		close(answers)
	}()
	best := leaderAnswer{leader: quorum.NoLeader, epoch: -1}
	var self *leaderAnswer
	// NB: the loop ends when every asking goroutine has returned, so none outlives locate (nor the
	// clients' close); a voter answering for itself cancels the others' requests.
	for a := range answers {
		if self != nil {
			continue
		}
		if a.self {
			self = &a
			cancel()
			continue
		}
		if a.leader == quorum.NoLeader {
			continue
		}
		c.mu.Lock()
		ok := c.usableLocked(a.leader, a.epoch)
		c.mu.Unlock()
		if ok && a.epoch > best.epoch {
			best = a
		}
	}
	if self != nil {
		best = *self
	}
	if best.leader == quorum.NoLeader {
		return quorum.NoLeader
	}
	c.found(best)
	return best.leader
}

// found records a located leader as the one to send to.
func (c *controllers) found(a leaderAnswer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a.self {
		delete(c.mu.unreachable, a.leader)
	}
	c.mu.active = a.leader
	c.mu.epoch = max(c.mu.epoch, a.epoch)
}

// describeQuorum asks a voter which node leads the quorum.
func describeQuorum(ctx context.Context, cl *kgo.Client) (leaderAnswer, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = metadataTopic
	p := kmsg.NewDescribeQuorumRequestTopicPartition()
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return leaderAnswer{}, err
	}
	dq := resp.(*kmsg.DescribeQuorumResponse)
	if dq.ErrorCode != 0 || len(dq.Topics) != 1 || len(dq.Topics[0].Partitions) != 1 {
		return leaderAnswer{leader: quorum.NoLeader, epoch: -1}, nil
	}
	p0 := dq.Topics[0].Partitions[0]
	return leaderAnswer{leader: p0.LeaderID, epoch: p0.LeaderEpoch, self: p0.ErrorCode == 0 && p0.LeaderID >= 0}, nil
}

// do sends req to the voter believed active (or the quorum leader the voters name) and returns its
// response and ID. A voter that cannot be reached is forgotten as active; the error wraps
// errNotController.
func (c *controllers) do(ctx context.Context, req kmsg.Request) (kmsg.Response, int32, error) {
	id, err := c.target(ctx)
	if err != nil {
		return nil, id, err
	}
	cl, err := c.client(id)
	if err != nil {
		c.unreachableVoter(id)
		return nil, id, fmt.Errorf("%w: %v", errNotController, err)
	}
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		c.unreachableVoter(id)
		return nil, id, fmt.Errorf("%w: controller %d: %v", errNotController, id, err)
	}
	return resp, id, nil
}

// send sends a controller request to the active controller. On NOT_CONTROLLER it forgets that voter
// as active and returns an error wrapping errNotController: the caller retries shortly, and the retry
// goes to the quorum leader the voters name then (the same voter again when it leads the quorum but is
// not active yet: its NoOp has not committed). errCode extracts the response's top-level error code.
func (c *controllers) send(ctx context.Context, req kmsg.Request, errCode func(kmsg.Response) int16) (kmsg.Response, int32, error) {
	resp, id, err := c.do(ctx, req)
	if err != nil {
		return nil, id, err
	}
	if errCode(resp) == kerr.NotController.Code {
		c.notActive(id, quorum.NoLeader, -1)
		return nil, id, fmt.Errorf("%w: controller %d answered NOT_CONTROLLER", errNotController, id)
	}
	c.setActive(id)
	return resp, id, nil
}

func (c *controllers) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, cl := range c.mu.clients {
		cl.Close()
		delete(c.mu.clients, id)
	}
}
