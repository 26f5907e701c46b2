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

// ctlDriver is broker/controller's runtime (controller.Node) on one voter.
type ctlDriver struct {
	id   int32
	node *quorum.Node
	ctl  *controller.Node
}

func startDriver(n *quorum.Node) *ctlDriver {
	ctl, err := controller.StartNode(controller.NodeConfig{Quorum: n, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TickInterval: 50 * time.Millisecond})
	if err != nil {
		panic(err) // only a nil quorum fails
	}
	return &ctlDriver{id: n.ID(), node: n, ctl: ctl}
}

func (d *ctlDriver) state() (bool, *metadata.Image) {
	return d.ctl.Active(), d.ctl.CommittedImage()
}

// TestTheControllerRunsOnTheQuorumAndFailsOver runs broker/controller's runtime on three voters: brokers
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
		d.ctl.Close()
		d.node.Close()
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
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var err error
			resp, err = active().ctl.Handle(ctx, req)
			return err
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
