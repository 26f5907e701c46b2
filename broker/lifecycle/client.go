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

// controllers sends Kafka-protocol requests to the controller quorum's voters on their controller
// listeners (one franz-go client per voter, created on first use) and remembers which one is active.
type controllers struct {
	voters   []quorum.Voter
	clientID string

	mu struct {
		sync.Mutex
		clients map[int32]*kgo.Client
		// active is the voter believed to be the active controller, or quorum.NoLeader.
		active int32
		// next is the voter to try when none is known (round robin).
		next int
	}
}

func newControllers(voters []quorum.Voter, clientID string) *controllers {
	c := &controllers{voters: voters, clientID: clientID}
	c.mu.clients = map[int32]*kgo.Client{}
	c.mu.active = quorum.NoLeader
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

// target is the voter to send the next controller request to.
func (c *controllers) target() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.active != quorum.NoLeader {
		return c.mu.active
	}
	v := c.voters[c.mu.next%len(c.voters)]
	c.mu.next++
	return v.ID
}

// notActive forgets id as the active controller, taking hint (a leader another voter named, or
// quorum.NoLeader) instead.
func (c *controllers) notActive(id, hint int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.active == id || c.mu.active == quorum.NoLeader {
		c.mu.active = hint
	}
}

// known is the voter believed active, or quorum.NoLeader.
func (c *controllers) known() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.active
}

func (c *controllers) setActive(id int32) {
	c.mu.Lock()
	c.mu.active = id
	c.mu.Unlock()
}

// errNotController: the voter answered NOT_CONTROLLER (or could not be reached); retry elsewhere.
var errNotController = errors.New("lifecycle: not the active controller")

// do sends req to the voter believed active (or the next to try) and returns its response and ID.
// A voter that cannot be reached is forgotten as active; the error wraps errNotController.
func (c *controllers) do(ctx context.Context, req kmsg.Request) (kmsg.Response, int32, error) {
	id := c.target()
	cl, err := c.client(id)
	if err != nil {
		return nil, id, err
	}
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		c.notActive(id, quorum.NoLeader)
		return nil, id, fmt.Errorf("%w: controller %d: %v", errNotController, id, err)
	}
	return resp, id, nil
}

// send sends a controller request to the active controller (or a guess). On NOT_CONTROLLER it asks
// that voter for the quorum leader (DescribeQuorum's LeaderID, the hint) and returns an error
// wrapping errNotController: the caller backs off and retries, which goes to the hint. errCode
// extracts the response's top-level error code.
func (c *controllers) send(ctx context.Context, req kmsg.Request, errCode func(kmsg.Response) int16) (kmsg.Response, int32, error) {
	resp, id, err := c.do(ctx, req)
	if err != nil {
		return nil, id, err
	}
	if errCode(resp) == kerr.NotController.Code {
		// NB: a hint naming id itself means it leads the quorum but is not active yet (its NoOp has not
		// committed): the retry goes to it again.
		cl, _ := c.client(id)
		hint := c.leaderHint(ctx, cl)
		c.notActive(id, hint)
		return nil, id, fmt.Errorf("%w: controller %d answered NOT_CONTROLLER (leader hint %d)", errNotController, id, hint)
	}
	c.setActive(id)
	return resp, id, nil
}

// leaderHint asks a voter which node leads the quorum.
func (c *controllers) leaderHint(ctx context.Context, cl *kgo.Client) int32 {
	req := kmsg.NewPtrDescribeQuorumRequest()
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = metadataTopic
	p := kmsg.NewDescribeQuorumRequestTopicPartition()
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return quorum.NoLeader
	}
	dq := resp.(*kmsg.DescribeQuorumResponse)
	if len(dq.Topics) != 1 || len(dq.Topics[0].Partitions) != 1 {
		return quorum.NoLeader
	}
	return dq.Topics[0].Partitions[0].LeaderID
}

func (c *controllers) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, cl := range c.mu.clients {
		cl.Close()
		delete(c.mu.clients, id)
	}
}
