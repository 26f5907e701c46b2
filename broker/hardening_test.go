package broker_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// bystander is a well-behaved client producing to its own topic while a test abuses the broker:
// every hardening test checks that the abuse costs nobody else their service.
type bystander struct {
	ok, failed atomic.Int64
	lastErr    atomic.Value
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// startBystander creates topic and produces to it, one record at a time, until stop.
func startBystander(t *testing.T, addr, topic string) *bystander {
	t.Helper()
	createTopic(t, addr, topic, 1, nil)
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordRetries(3))
	ctx, cancel := context.WithCancel(context.Background())
	bs := &bystander{cancel: cancel}
	bs.wg.Add(1)
	go func() {
		defer bs.wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
			err := cl.ProduceSync(pctx, kgo.StringRecord(fmt.Sprint(i))).FirstErr()
			pcancel()
			switch {
			case err == nil:
				bs.ok.Add(1)
			case ctx.Err() == nil:
				bs.failed.Add(1)
				bs.lastErr.Store(err.Error())
			}
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return bs
}

// stop ends the bystander and fails the test unless it produced at least once and never failed.
func (bs *bystander) stop(t *testing.T) {
	t.Helper()
	// At least one produce lands after the abuse, not only before it.
	before := bs.ok.Load()
	_ = testutil.Poll(10*time.Second, 5*time.Millisecond, func() error {
		if bs.ok.Load() == before && bs.failed.Load() == 0 {
			return fmt.Errorf("no produce since")
		}
		return nil
	})
	bs.cancel()
	bs.wg.Wait()
	if n := bs.failed.Load(); n > 0 {
		t.Errorf("the other client failed %d produces (last: %v)", n, bs.lastErr.Load())
	}
	if bs.ok.Load() == before {
		t.Errorf("the other client produced nothing after the abuse (%d before)", before)
	}
}
