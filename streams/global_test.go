package streams_test

import (
	"fmt"
	"testing"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
)

func TestStreamGlobalTableJoinLooksUpByMappedKeyAndResumesFromItsCheckpoint(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	// The global table's topic need not be co-partitioned with the stream.
	createTopic(t, addr, "items", 3)
	createTopic(t, addr, "purchases", 2)
	createTopic(t, addr, "bought", 1)
	createTopic(t, addr, "bought-left", 1)
	produceKV(t, addr, "items", put("i1", "apple"), put("i2", "pear"), put("i3", "plum"))

	topology := func() *streams.Builder {
		b := streams.NewBuilder()
		purchases := streams.Stream(b, "purchases", statestore.String{}, statestore.String{})
		items := streams.GlobalTable(b, "items", statestore.String{}, statestore.String{})
		byItem := func(_, item string) string { return item }
		streams.JoinGlobalTable(purchases, items, byItem, func(item, name string) string { return item + "=" + name }, statestore.String{}).
			To("bought", nil, nil)
		streams.LeftJoinGlobalTable(purchases, items, byItem, func(item string, name *string) string { return item + "=" + orName(name) }, statestore.String{}).
			To("bought-left", nil, nil)
		return b
	}
	cfg := streams.Config{ApplicationID: "glob", BootstrapServers: []string{addr}, StateDir: t.TempDir()}
	app := startApp(t, build(t, topology()), cfg)
	// Start returns once every partition of the global topic is in the local store.
	if got := app.Stats().GlobalRecordsApplied; got != 3 {
		t.Fatalf("after Start, %d global records applied, want all 3", got)
	}

	produceKV(t, addr, "purchases", put("u1", "i1"), put("u2", "i2"), put("u3", "i9"))
	expectPerKey(t, app, addr, "bought-left", map[string][]string{"u1": {"i1=apple"}, "u2": {"i2=pear"}, "u3": {"i9=nil"}})

	// The global thread keeps the table up to date.
	produceKV(t, addr, "items", put("i9", "fig"), del("i1"))
	waitFor(t, func() error {
		if n := app.Stats().GlobalRecordsApplied; n < 5 {
			return fmt.Errorf("global thread applied %d records, want 5", n)
		}
		return nil
	})
	produceKV(t, addr, "purchases", put("u4", "i9"), put("u1", "i1"))
	expectPerKey(t, app, addr, "bought-left", map[string][]string{
		"u1": {"i1=apple", "i1=nil"}, "u2": {"i2=pear"}, "u3": {"i9=nil"}, "u4": {"i9=fig"}})
	expectPerKey(t, app, addr, "bought", map[string][]string{"u1": {"i1=apple"}, "u2": {"i2=pear"}, "u4": {"i9=fig"}})
	if err := app.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// A restart with the same state directory resumes the global store from the offsets
	// checkpointed by Close: it applies only the record produced since.
	produceKV(t, addr, "items", put("i4", "kiwi"))
	app = startApp(t, build(t, topology()), cfg)
	if got := app.Stats().GlobalRecordsApplied; got != 1 {
		t.Fatalf("after a restart, %d global records applied, want only the 1 new one", got)
	}
	produceKV(t, addr, "purchases", put("u5", "i4"), put("u5", "i2"), put("u5", "i1"))
	expectPerKey(t, app, addr, "bought", map[string][]string{
		"u1": {"i1=apple"}, "u2": {"i2=pear"}, "u4": {"i9=fig"}, "u5": {"i4=kiwi", "i2=pear"}})

	// Without the state directory, the store is rebuilt from the whole topic.
	if err := app.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	cfg.StateDir = t.TempDir()
	app = startApp(t, build(t, topology()), cfg)
	if got := app.Stats().GlobalRecordsApplied; got != 6 {
		t.Fatalf("with a new state directory, %d global records applied, want all 6", got)
	}
}
