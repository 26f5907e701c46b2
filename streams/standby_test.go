package streams_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testnet"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFailoverToAStandbyRestoresOnlyTheTail runs three instances of a count with
// NumStandbyReplicas=1, kills one, and checks that its tasks resume on the instances that kept
// standby copies, restoring under 5% of the changelog records a cold restore of them needs,
// with exact counts.
func TestFailoverToAStandbyRestoresOnlyTheTail(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "events", 6)
	createTopic(t, tb.Addr(), "event-counts", 6)
	topology := func() *streams.Topology {
		b := streams.NewBuilder()
		streams.Stream(b, "events", statestore.String{}, statestore.String{}).
			GroupByKey().Count(streams.Materialized("counts")).ToStream().
			To("event-counts", statestore.String{}, statestore.Int64{})
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	groupOpts := []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(200 * time.Millisecond)}
	cfg := func() streams.Config {
		return streams.Config{ApplicationID: "sb", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir(),
			CommitInterval: 100 * time.Millisecond, NumStandbyReplicas: 1, ClientOptions: groupOpts}
	}
	victimDialer := &testnet.Dialer{}
	vcfg := cfg()
	vcfg.ClientOptions = append([]kgo.Opt{kgo.Dialer(victimDialer.Dial), kgo.RecordDeliveryTimeout(3 * time.Second),
		kgo.ClientID("standby-victim")}, groupOpts...)
	vcfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) // it outlives the test
	victim, err := streams.New(topology(), vcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s1 := startApp(t, topology(), cfg())
	s2 := startApp(t, topology(), cfg())
	waitForMembers(t, tb.Addr(), "sb", 3)

	const keys = 600
	want := map[string]int64{}
	produceN := func(n int) {
		t.Helper()
		recs := make([]*kgo.Record, n)
		for i := range recs {
			k := fmt.Sprintf("k%03d", i%keys)
			want[k]++
			recs[i] = &kgo.Record{Topic: "events", Key: []byte(k), Value: []byte("x")}
		}
		if err := client(t, tb.Addr()).ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Many commits of every key: a long changelog, which the standbys follow.
	for range 20 {
		produceN(3000)
		waitForCommittedEnd(t, tb.Addr(), "sb", "events", waitTimeout)
	}
	// The standbys have caught up once their restores stop moving with no new input.
	last := int64(-1)
	waitFor(t, func() error {
		n := s1.Stats().StandbyRecordsRestored + s2.Stats().StandbyRecordsRestored
		if n == 0 || n != last {
			last = n
			return fmt.Errorf("standby copies restored %d changelog records so far, still moving", n)
		}
		return nil
	})
	restoredBefore := s1.Stats().RecordsRestored + s2.Stats().RecordsRestored

	// Which tasks die with the victim, and what a cold restore of them would read.
	adm := kadm.NewClient(client(t, tb.Addr()))
	described, err := adm.DescribeGroups(ctxT(t), "sb")
	if err != nil {
		t.Fatal(err)
	}
	var victimParts []int32
	for _, m := range described["sb"].Members {
		if c, ok := m.Assigned.AsConsumer(); ok && m.ClientID == "standby-victim" {
			for _, tp := range c.Topics {
				victimParts = append(victimParts, tp.Partitions...)
			}
		}
	}
	ends, err := adm.ListEndOffsets(ctxT(t), "sb-counts-changelog")
	if err != nil {
		t.Fatal(err)
	}
	var cold int64
	for _, p := range victimParts {
		e, _ := ends.Lookup("sb-counts-changelog", p)
		cold += e.Offset
	}
	if len(victimParts) == 0 || cold == 0 {
		t.Fatalf("the victim owns partitions %v with %d changelog records: the test proves nothing", victimParts, cold)
	}

	// Interactive queries that allow stale reads answer the victim's keys from the standbys.
	checked := 0
	for k, n := range want {
		md, err := s1.KeyOwner("counts", []byte(k))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(victimParts, md.Partition) || checked == 20 {
			continue
		}
		checked++
		answered := false
		for _, s := range []*streams.App{s1, s2} {
			if _, _, err := mustStore(t, s, false).Get([]byte(k)); err == nil {
				t.Fatalf("key %s of the victim's partition %d answered without stale reads", k, md.Partition)
			}
			if _, _, err := mustStore(t, s, true).Get([]byte(k)); err != nil {
				continue // not this survivor's standby
			}
			// NB: a standby may lag by one refresh (the "stopped moving" wait above can fall between
			// two refreshes); with no new input it must reach the exact count.
			waitFor(t, func() error {
				v, ok, err := mustStore(t, s, true).Get([]byte(k))
				if err != nil {
					return err
				}
				if got, _ := (statestore.Int64{}).Deserialize(v); !ok || got != n {
					return fmt.Errorf("stale read of %s from a standby = %d (found %v), want %d", k, got, ok, n)
				}
				return nil
			})
			answered = true
		}
		if !answered {
			t.Fatalf("no survivor answers key %s of the victim's partition %d from a standby", k, md.Partition)
		}
	}

	if checked == 0 {
		t.Fatal("no key of the victim's partitions was queried")
	}

	victimDialer.Sever()
	go victim.Close() // it cannot reach the broker any more; nothing waits for it
	produceN(3000)
	waitForCommittedEnd(t, tb.Addr(), "sb", "events", 60*time.Second)
	latest, maxSeen := readAllCounts(t, tb.Addr(), "event-counts", func(k string) string { return k })
	for k, n := range want {
		if latest[k] != n || maxSeen[k] > n {
			t.Errorf("key %s: latest count %d, largest %d, want %d", k, latest[k], maxSeen[k], n)
		}
	}
	restored := s1.Stats().RecordsRestored + s2.Stats().RecordsRestored - restoredBefore
	t.Logf("the victim's tasks (partitions %v) hold %d changelog records; the survivors restored %d to resume them (%.1f%%), their standbys %d in all",
		victimParts, cold, restored, 100*float64(restored)/float64(cold), s1.Stats().StandbyRecordsRestored+s2.Stats().StandbyRecordsRestored)
	if restored*20 >= cold {
		t.Errorf("the survivors restored %d changelog records to resume the victim's tasks: not under 5%% of the %d a cold restore reads", restored, cold)
	}
}

func mustStore(t *testing.T, app *streams.App, stale bool) *streams.ReadOnlyStore {
	t.Helper()
	get := app.Store
	if stale {
		get = app.StaleStore
	}
	s, err := get("counts")
	if err != nil {
		t.Fatal(err)
	}
	return s
}
