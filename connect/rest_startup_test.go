package connect_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// freePort returns a 127.0.0.1 port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// postAtPortOpen starts a worker with start in the background, waits for its REST port to accept
// connections and POSTs a connector at once, as a deploy script does; it returns the status.
func postAtPortOpen(t *testing.T, addr string, start func() (func(), error)) int {
	t.Helper()
	var (
		wg      sync.WaitGroup
		stop    func()
		startEr error
	)
	wg.Add(1)
	go func() { defer wg.Done(); stop, startEr = start() }()
	t.Cleanup(func() {
		wg.Wait()
		if stop != nil {
			stop()
		}
	})
	testutil.CheckFor(t, 30*time.Second, 2*time.Millisecond, func() error {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return err
		}
		conn.Close()
		return nil
	})
	code, v := restClient{t: t, base: "http://" + addr}.do("POST", "/connectors", `{"name":"early","config":{"connector.class":"CountSource","topic":"early"}}`)
	wg.Wait()
	if startEr != nil {
		t.Fatalf("starting the worker: %v", startEr)
	}
	if code != 201 {
		t.Errorf("POST /connectors the moment the port opened: status %d, want 201; body %v", code, v)
	}
	return code
}

func TestDistributedWriteAtPortOpenWaitsForFirstJoin(t *testing.T) {
	tb := startDistBroker(t)
	reg := testRegistry(t)
	addr := freePort(t)
	props := distProps(hiddenBroker{bootstrap: tb.Addr()}, "early-cluster", map[string]string{"listeners": "http://" + addr})
	postAtPortOpen(t, addr, func() (func(), error) {
		r, err := connect.RunDistributed(context.Background(), props, connect.Options{Registry: reg, Logger: testLogger()})
		if err != nil {
			return nil, err
		}
		return func() { r.Close() }, nil
	})
}

func TestStandaloneWriteAtPortOpenWaitsForHerder(t *testing.T) {
	tb := startDistBroker(t)
	reg := testRegistry(t)
	addr := freePort(t)
	props := map[string]string{"bootstrap.servers": tb.Addr(), "listeners": "http://" + addr,
		"offset.storage.file.filename": t.TempDir() + "/connect.offsets"}
	postAtPortOpen(t, addr, func() (func(), error) {
		r, err := connect.RunStandalone(context.Background(), props, connect.Options{Registry: reg, Logger: testLogger()})
		if err != nil {
			return nil, err
		}
		return func() { r.Close() }, nil
	})
}

// A write that arrives while a distributed worker has not joined yet gets Kafka's 409 once the
// request timeout passes: the wait is bounded.
func TestDistributedWriteBeforeFirstJoinAnswers409AfterRequestTimeout(t *testing.T) {
	tb := startDistBroker(t)
	reg := testRegistry(t)
	// A phantom member that never rejoins holds the group's first rebalance for rebalance.timeout.ms
	// (4 s) longer than the request timeout (300 ms).
	joinPhantom(t, tb, "slow-cluster", 4*time.Second)
	addr := freePort(t)
	props := distProps(hiddenBroker{bootstrap: tb.Addr()}, "slow-cluster", map[string]string{"listeners": "http://" + addr})
	r, err := connect.RunDistributed(context.Background(), props, connect.Options{Registry: reg, Logger: testLogger(), RESTRequestTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	began := time.Now()
	code, v := restClient{t: t, base: "http://" + addr}.do("POST", "/connectors", `{"name":"late","config":{"connector.class":"CountSource","topic":"late"}}`)
	took := time.Since(began)
	if code != 409 || took < 300*time.Millisecond {
		t.Fatalf("status %d after %v, want 409 after at least the 300ms request timeout; body %v", code, took, v)
	}
}
