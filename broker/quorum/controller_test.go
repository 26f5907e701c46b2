package quorum_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/controller"
	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/broker/quorum"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// ctlDriver runs a broker/controller Controller on a quorum Node the way broker/controller's package
// doc describes: one goroutine owns the Controller and drains Committed; one proposer goroutine calls
// Propose in order; a leader proposes a NoOpRecord and becomes active once it comes back.
type ctlDriver struct {
	id    int32
	node  *quorum.Node
	calls chan ctlCall
	done  chan struct{}

	mu        sync.Mutex
	active    bool
	committed *metadata.Image
}

type ctlCall struct {
	req   kmsg.Request
	reply chan ctlReply
}

type ctlReply struct {
	resp kmsg.Response
	err  error
}

type proposal struct {
	records  []metadata.Record
	call     *ctlCall
	resp     kmsg.Response
	activate uint64 // the term to become active in, for the NoOp batch
}

type proposed struct {
	proposal
	offset uint64
	err    error
}

var errNotActive = errors.New("not the active controller")

func startDriver(n *quorum.Node) *ctlDriver {
	d := &ctlDriver{id: n.ID(), node: n, calls: make(chan ctlCall), done: make(chan struct{}), committed: metadata.Empty()}
	go func() {
		defer close(d.done)
		d.run()
	}()
	return d
}

func (d *ctlDriver) run() {
	ctl := controller.New(controller.DefaultConfig(), metadata.Empty())
	proposals := make(chan proposal, 64)
	results := make(chan proposed, 64)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(proposals)
	wg.Go(func() {
		for p := range proposals {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			off, err := d.node.Propose(ctx, metadata.EncodeRecords(p.records))
			cancel()
			results <- proposed{p, off, err}
		}
	})
	var applied, activateAt, activateTerm uint64
	tryActivate := func() {
		if activateAt != 0 && applied >= activateAt && d.node.Leader() == d.id && d.node.Term() == activateTerm {
			ctl.BecomeActive(time.Now(), int32(activateTerm))
			activateAt = 0
		}
	}
	publish := func() {
		d.mu.Lock()
		d.active, d.committed = ctl.Active(), ctl.Committed()
		d.mu.Unlock()
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case c, ok := <-d.node.Committed():
			if !ok {
				return
			}
			switch {
			case c.IsSnapshot:
				img, err := metadata.ReadSnapshot(c.Image)
				if err != nil {
					panic(err) // a test driver: the snapshot is ours
				}
				ctl.LoadSnapshot(img)
				applied = c.Index
			case c.LeaderChange:
				if c.LeaderID == d.id {
					proposals <- proposal{records: []metadata.Record{&metadata.NoOpRecord{}}, activate: c.Term}
				} else if ctl.Active() {
					ctl.Resign()
				}
			default:
				recs, err := metadata.DecodeRecords(c.Records)
				if err == nil {
					err = ctl.ApplyCommitted(int64(c.Index), int32(c.Term), recs)
				}
				if err != nil && ctl.Active() {
					ctl.Resign()
				}
				applied = c.Index
				tryActivate()
				if c.SnapshotDue {
					img := ctl.Committed()
					_ = d.node.Snapshot(uint64(img.Offset()), metadata.AppendSnapshot(nil, img))
				}
			}
			publish()
		case r := <-results:
			switch {
			case r.err != nil:
				if ctl.Active() {
					ctl.Resign()
				}
				if r.call != nil {
					r.call.reply <- ctlReply{err: r.err}
				}
			case r.activate != 0:
				activateAt, activateTerm = r.offset, r.activate
				tryActivate()
			case r.call != nil:
				r.call.reply <- ctlReply{resp: r.resp}
			}
			publish()
		case call := <-d.calls:
			if !ctl.Active() {
				call.reply <- ctlReply{err: errNotActive}
				continue
			}
			res, err := ctl.Handle(time.Now(), call.req)
			switch {
			case err != nil:
				call.reply <- ctlReply{err: err}
			case len(res.Records) == 0:
				call.reply <- ctlReply{resp: res.Reply}
			default:
				proposals <- proposal{records: res.Records, call: &call, resp: res.Reply}
			}
			publish()
		case <-tick.C:
			if ctl.Active() {
				if res, err := ctl.Tick(time.Now()); err == nil && len(res.Records) > 0 {
					proposals <- proposal{records: res.Records}
				}
			}
		}
	}
}

func (d *ctlDriver) state() (bool, *metadata.Image) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.active, d.committed
}

// TestTheControllerRunsOnTheQuorumAndFailsOver drives broker/controller on three voters: brokers
// register and are unfenced, a topic is created, the active controller's node is killed, another
// becomes active and creates a second topic, and the killed node restarts from its snapshot and log
// with both topics.
func TestTheControllerRunsOnTheQuorumAndFailsOver(t *testing.T) {
	var voters []quorum.Voter
	lns := map[int32]net.Listener{}
	dirs := map[int32]string{}
	for id := int32(1); id <= 3; id++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[id], dirs[id] = ln, filepath.Join(t.TempDir(), quorum.MetadataDirName)
		voters = append(voters, quorum.Voter{ID: id, Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port})
	}
	drivers := map[int32]*ctlDriver{}
	var mu sync.Mutex
	start := func(id int32, ln net.Listener) {
		n, err := quorum.Start(quorum.Config{
			NodeID: id, Voters: voters, Dir: dirs[id], Listener: ln,
			Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
			TickInterval: 20 * time.Millisecond, ElectionTicks: 20, SnapshotAfterBatches: 3,
		})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		drivers[id] = startDriver(n)
		mu.Unlock()
	}
	stop := func(id int32) {
		mu.Lock()
		d := drivers[id]
		delete(drivers, id)
		mu.Unlock()
		d.node.Close()
		<-d.done
	}
	for id, ln := range lns {
		start(id, ln)
	}
	t.Cleanup(func() {
		for _, id := range []int32{1, 2, 3} {
			if drivers[id] != nil {
				stop(id)
			}
		}
	})

	active := func() *ctlDriver {
		var found *ctlDriver
		testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
			for _, d := range drivers {
				if a, _ := d.state(); a {
					found = d
					return nil
				}
			}
			return errors.New("no active controller")
		})
		return found
	}
	call := func(req kmsg.Request) kmsg.Response {
		var resp kmsg.Response
		testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			d := active()
			reply := make(chan ctlReply, 1)
			d.calls <- ctlCall{req: req, reply: reply}
			r := <-reply
			resp = r.resp
			return r.err
		})
		return resp
	}

	epochs := map[int32]int64{}
	for id := int32(1); id <= 3; id++ {
		r := kmsg.NewPtrBrokerRegistrationRequest()
		r.BrokerID, r.IncarnationID = id, [16]byte{byte(id)}
		l := kmsg.NewBrokerRegistrationRequestListener()
		l.Name, l.Host, l.Port = "PLAINTEXT", "127.0.0.1", uint16(9090+id)
		r.Listeners = append(r.Listeners, l)
		epochs[id] = call(r).(*kmsg.BrokerRegistrationResponse).BrokerEpoch
	}
	for id := int32(1); id <= 3; id++ {
		testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			_, img := active().state()
			h := kmsg.NewPtrBrokerHeartbeatRequest()
			h.BrokerID, h.BrokerEpoch, h.CurrentMetadataOffset = id, epochs[id], img.Offset()
			if resp := call(h).(*kmsg.BrokerHeartbeatResponse); resp.IsFenced {
				return fmt.Errorf("broker %d still fenced (error %d)", id, resp.ErrorCode)
			}
			return nil
		})
	}
	createTopic := func(name string) {
		r := kmsg.NewPtrCreateTopicsRequest()
		tp := kmsg.NewCreateTopicsRequestTopic()
		tp.Topic, tp.NumPartitions, tp.ReplicationFactor = name, 3, 3
		r.Topics = append(r.Topics, tp)
		if code := call(r).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 {
			t.Fatalf("create %s: error code %d", name, code)
		}
	}
	haveTopics := func(names ...string) {
		testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			mu.Lock()
			defer mu.Unlock()
			for id, d := range drivers {
				_, img := d.state()
				for _, name := range names {
					if tp := img.Topic(name); tp == nil || tp.NumPartitions() != 3 {
						return fmt.Errorf("controller %d's committed image lacks %s", id, name)
					}
				}
			}
			return nil
		})
	}

	createTopic("orders")
	haveTopics("orders")

	killed := active().id
	stop(killed)
	createTopic("payments")
	if next := active().id; next == killed {
		t.Fatalf("killed controller %d still active", killed)
	}
	haveTopics("orders", "payments")

	ln, err := net.Listen("tcp", lns[killed].Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	start(killed, ln)
	haveTopics("orders", "payments")
}
