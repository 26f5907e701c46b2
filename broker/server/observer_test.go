package server_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// observed is one RequestDone call.
type observed struct {
	key, version int16
	resp         kmsg.Response
	times        server.RequestTimes
}

type recorder struct {
	mu   sync.Mutex
	seen []observed
}

func (r *recorder) RequestDone(key, version int16, resp kmsg.Response, t server.RequestTimes) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, observed{key, version, resp, t})
}

func (r *recorder) snapshot() []observed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]observed(nil), r.seen...)
}

// apiVersionsAndSilentProduce answers ApiVersions and, like an acks=0 produce, nothing to Produce.
type apiVersionsAndSilentProduce struct{}

func (apiVersionsAndSilentProduce) Supported(key, version int16) bool { return key == 18 || key == 0 }

func (apiVersionsAndSilentProduce) Handle(_ *server.Conn, req kmsg.Request) server.Response {
	if req.Key() == 0 {
		return server.Response{}
	}
	return server.Response{Msg: req.(*kmsg.ApiVersionsRequest).ResponseKind()}
}

// TestObserverSeesEveryRequestWithOrderedTimes: the Observer gets one call per request, answered
// or not, in the connection's order, with its key and version, the response when one was sent,
// and times that never go backwards; ConnectionsByListener counts the connection under its
// listener's address.
func TestObserverSeesEveryRequestWithOrderedTimes(t *testing.T) {
	rec := &recorder{}
	srv := server.New(server.Config{Observer: rec}, apiVersionsAndSilentProduce{})
	t.Cleanup(func() { srv.Close() })
	addr, err := srv.ListenAndServe(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, addr.String())
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("observer-test"))
	produce := kmsg.NewPtrProduceRequest()
	produce.Version, produce.Acks = 3, 0
	// NB: each frame is built on its own: AppendRequest writes the size prefix at dst[0].
	var frames []byte
	frames = append(frames, f.AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 1)...)
	frames = append(frames, f.AppendRequest(nil, produce, 2)...)
	frames = append(frames, f.AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 3)...)
	if _, err := c.Write(frames); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for range 2 { // two ApiVersions answers; the produce gets none
		var size [4]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			t.Fatalf("reading an answer: %v (observed: %+v)", err, rec.snapshot())
		}
		if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(size[:]))); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.ConnectionsByListener()[addr.String()]; n != 1 {
		t.Errorf("ConnectionsByListener()[%s] = %d, want 1", addr, n)
	}
	testutil.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := len(rec.snapshot()); n != 3 {
			return fmt.Errorf("observed %d requests, want 3", n)
		}
		return nil
	})
	seen := rec.snapshot()
	// NB: the produce (no answer) is observed by the read loop, the answers by the write loop,
	// so only the two answered requests keep their relative order.
	var answered []observed
	for _, o := range seen {
		switch o.key {
		case 0:
			if o.version != 3 || o.resp != nil {
				t.Errorf("silent produce observed as version %d with response %v, want version 3 and none", o.version, o.resp)
			}
		case 18:
			if _, ok := o.resp.(*kmsg.ApiVersionsResponse); !ok {
				t.Errorf("ApiVersions observed with response %T", o.resp)
			}
			answered = append(answered, o)
		default:
			t.Errorf("observed key %d", o.key)
		}
		tm := o.times
		if tm.Received.IsZero() || tm.Started.Before(tm.Received) || tm.Handled.Before(tm.Started) ||
			tm.Dequeued.Before(tm.Handled) || tm.Sent.Before(tm.Dequeued) {
			t.Errorf("key %d: times out of order: %+v", o.key, tm)
		}
	}
	if len(answered) != 2 || answered[1].times.Received.Before(answered[0].times.Received) {
		t.Errorf("answered requests observed out of order: %+v", answered)
	}
}
