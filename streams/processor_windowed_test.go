package streams_test

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/gregor-streams/gregor/streams/streamstest"
)

// TestProcessorAPIWindowAndSessionStores: a processor counts each key's records per 10ms window
// in a window store and keeps each key's sessions (gap 5ms, merged by hand) in a session store,
// and forwards both after every record.
func TestProcessorAPIWindowAndSessionStores(t *testing.T) {
	t.Parallel()
	b := streams.NewBuilder()
	streams.AddWindowStore(b, "per-window", time.Minute)
	streams.AddSessionStore(b, "sessions", time.Minute)
	streams.Process(streams.Stream(b, "events", statestore.String{}, statestore.String{}),
		func() streams.Processor[string, string, string, string] {
			var windows *statestore.WindowStore
			var sessions *statestore.SessionStore
			return streams.ProcessorFunc[string, string, string, string](func(ctx streams.ProcessorContext[string, string], r streams.Record[string, string]) error {
				if windows == nil {
					var err error
					if windows, err = ctx.WindowStore("per-window"); err != nil {
						return err
					}
					if sessions, err = ctx.SessionStore("sessions"); err != nil {
						return err
					}
					if _, err := ctx.KeyValueStore("per-window"); err == nil {
						return fmt.Errorf("KeyValueStore returned a window store")
					}
				}
				k, start := []byte(r.Key), r.Timestamp/10*10
				old, _, err := windows.Get(k, start)
				if err != nil {
					return err
				}
				n := int64(1)
				if len(old) == 8 {
					n += int64(binary.BigEndian.Uint64(old))
				}
				if err := windows.Put(k, start, binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
					return err
				}
				// The record's session: itself merged with every session within 5ms.
				s, e := r.Timestamp, r.Timestamp
				it := sessions.FindSessions(k, r.Timestamp-5, r.Timestamp+5)
				var merged [][2]int64
				for it.Next() {
					merged = append(merged, [2]int64{it.Start(), it.End()})
					s, e = min(s, it.Start()), max(e, it.End())
				}
				if err := it.Close(); err != nil {
					return err
				}
				for _, m := range merged {
					if err := sessions.Remove(k, m[0], m[1]); err != nil {
						return err
					}
				}
				if err := sessions.Put(k, s, e, []byte("x")); err != nil {
					return err
				}
				return ctx.Forward(streams.Record[string, string]{Key: r.Key, Timestamp: r.Timestamp,
					Value: fmt.Sprintf("window %d: %d; session [%d,%d]", start, n, s, e)})
			})
		}, statestore.String{}, statestore.String{}, streams.ConnectStores("per-window", "sessions")).
		To("out", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d := streamstest.New(t, topo, streamstest.Options{})
	in := streamstest.Input(d, "events", statestore.String{}, statestore.String{})
	for _, ts := range []int64{1, 4, 12, 30, 8} {
		in.Pipe("k", "x", ts)
	}
	var got []string
	for _, r := range streamstest.Output(d, "out", statestore.String{}, statestore.String{}).ReadAll() {
		got = append(got, r.Value)
	}
	want := []string{
		"window 0: 1; session [1,1]",
		"window 0: 2; session [1,4]",
		"window 10: 1; session [12,12]",
		"window 30: 1; session [30,30]",
		"window 0: 3; session [1,12]", // 8 bridges [1,4] and [12,12]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("outputs\n got %q\nwant %q", got, want)
	}
	// The stores' changelogs are windowed: compact,delete with retention + 1 day.
	cfg := topicConfigs(t, d.Addr(), d.ApplicationID()+"-per-window-changelog")
	if cfg["cleanup.policy"] != "compact,delete" || cfg["retention.ms"] != fmt.Sprint(60_000+86_400_000) {
		t.Fatalf("window store changelog: cleanup.policy=%q retention.ms=%q", cfg["cleanup.policy"], cfg["retention.ms"])
	}
}
