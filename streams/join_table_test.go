package streams_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kv is a record to produce: a nil value is a tombstone.
type kv struct {
	key   string
	value *string
}

func put(key, value string) kv { return kv{key, &value} }
func del(key string) kv        { return kv{key: key} }

// produceKV writes string records to topic with Kafka's default partitioner (murmur2 of the
// key), so a key lands on the partition a Kafka producer would pick.
func produceKV(t *testing.T, addr, topic string, recs ...kv) {
	t.Helper()
	var krs []*kgo.Record
	for _, r := range recs {
		kr := &kgo.Record{Topic: topic, Key: []byte(r.key)}
		if r.value != nil {
			kr.Value = []byte(*r.value)
		}
		krs = append(krs, kr)
	}
	produce(t, addr, krs...)
}

// readPerKey reads topic from the start until it holds n records, then returns the values of
// each key in offset order (a null value reads "null"), failing if more than n are there.
// Records of one key are on one partition, so their order is defined; across keys it is not.
func readPerKey(t *testing.T, app *streams.App, addr, topic string, n int) map[string][]string {
	t.Helper()
	cl := client(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string][]string{}
	count := 0
	waitFor(t, func() error {
		if count >= n {
			return nil
		}
		appFailed(t, app)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		fetches := cl.PollFetches(ctx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) {
			v := "null"
			if r.Value != nil {
				v = string(r.Value)
			}
			got[string(r.Key)] = append(got[string(r.Key)], v)
			count++
		})
		if count < n {
			return fmt.Errorf("%s: %d records, want %d: %v", topic, count, n, got)
		}
		return nil
	})
	ends, err := kadm.NewClient(client(t, addr)).ListEndOffsets(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != int64(n) {
		t.Fatalf("%s holds %d records, want exactly %d (read %v)", topic, total, n, got)
	}
	return got
}

func expectPerKey(t *testing.T, app *streams.App, addr, topic string, want map[string][]string) {
	t.Helper()
	n := 0
	for _, vs := range want {
		n += len(vs)
	}
	if got := readPerKey(t, app, addr, topic, n); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s per key:\n got %v\nwant %v", topic, got, want)
	}
}

// waitRecords waits until topic holds at least n records: used on a store's changelog to
// know the App has applied table updates before the next step of a test.
func waitRecords(t *testing.T, addr, topic string, n int64) {
	t.Helper()
	adm := kadm.NewClient(client(t, addr))
	waitFor(t, func() error {
		ends, err := adm.ListEndOffsets(ctxT(t), topic)
		if err != nil {
			return fmt.Errorf("%s: end offsets: %w", topic, err)
		}
		var total int64
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				total += o.Offset
			}
		})
		if total < n {
			return fmt.Errorf("%s: %d records, want %d", topic, total, n)
		}
		return nil
	})
}

func build(t *testing.T, b *streams.Builder) *streams.Topology {
	t.Helper()
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func orName(p *string) string {
	if p == nil {
		return "nil"
	}
	return *p
}

func TestStreamTableJoinEnrichesOrdersWithTheCustomerAtTheTime(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "orders", 2)
	createTopic(t, addr, "customers", 2)
	createTopic(t, addr, "enriched-inner", 1)
	createTopic(t, addr, "enriched-left", 1)

	b := streams.NewBuilder()
	orders := streams.Stream(b, "orders", statestore.String{}, statestore.String{})
	customers := streams.Table(b, "customers", statestore.String{}, statestore.String{}, streams.Materialized("customers"))
	streams.JoinTable(orders, customers, func(o, c string) string { return o + "@" + c }, statestore.String{}).
		To("enriched-inner", nil, nil)
	streams.LeftJoinTable(orders, customers, func(o string, c *string) string { return o + "@" + orName(c) }, statestore.String{}).
		To("enriched-left", nil, nil)
	app := startApp(t, build(t, b), streams.Config{ApplicationID: "enrich", BootstrapServers: []string{addr}, StateDir: t.TempDir()})
	changelog := "enrich-customers-changelog"

	// An order before its customer exists: the inner join drops it, the left join has nil.
	produceKV(t, addr, "orders", put("c9", "o0:pen"))
	expectPerKey(t, app, addr, "enriched-left", map[string][]string{"c9": {"o0:pen@nil"}})

	produceKV(t, addr, "customers", put("c1", "alice"), put("c2", "bob"))
	waitRecords(t, addr, changelog, 2)
	produceKV(t, addr, "orders", put("c1", "o1:book"), put("c2", "o2:ink"), put("c3", "o3:cup"))
	expectPerKey(t, app, addr, "enriched-left", map[string][]string{
		"c9": {"o0:pen@nil"}, "c1": {"o1:book@alice"}, "c2": {"o2:ink@bob"}, "c3": {"o3:cup@nil"}})

	// Table updates trigger nothing; later orders see them.
	produceKV(t, addr, "customers", put("c1", "alicia"), del("c2"))
	waitRecords(t, addr, changelog, 4)
	produceKV(t, addr, "orders", put("c1", "o4:pad"), put("c2", "o5:box"))
	expectPerKey(t, app, addr, "enriched-left", map[string][]string{
		"c9": {"o0:pen@nil"}, "c1": {"o1:book@alice", "o4:pad@alicia"}, "c2": {"o2:ink@bob", "o5:box@nil"}, "c3": {"o3:cup@nil"}})
	expectPerKey(t, app, addr, "enriched-inner", map[string][]string{
		"c1": {"o1:book@alice", "o4:pad@alicia"}, "c2": {"o2:ink@bob"}})
}

func TestTableTableJoinsFollowUpdatesAndDeletesOnBothSides(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	for _, topic := range []string{"left", "right"} {
		createTopic(t, addr, topic, 2)
	}
	for _, topic := range []string{"inner", "leftjoin", "outer"} {
		createTopic(t, addr, topic, 1)
	}
	b := streams.NewBuilder()
	l := streams.Table(b, "left", statestore.String{}, statestore.String{})
	r := streams.Table(b, "right", statestore.String{}, statestore.String{})
	streams.JoinTables(l, r, func(a, b string) string { return a + "+" + b }, statestore.String{}).
		ToStream().To("inner", nil, nil)
	streams.LeftJoinTables(l, r, func(a string, b *string) string { return a + "+" + orName(b) }, statestore.String{}).
		ToStream().To("leftjoin", nil, nil)
	streams.OuterJoinTables(l, r, func(a, b *string) string { return orName(a) + "+" + orName(b) }, statestore.String{}).
		ToStream().To("outer", nil, nil)
	app := startApp(t, build(t, b), streams.Config{ApplicationID: "tt", BootstrapServers: []string{addr}, StateDir: t.TempDir()})

	// One update at a time: each gives exactly one outer-join output, which tells the step is
	// processed before the next update (the two tables' topics are read concurrently).
	steps := []struct {
		topic string
		rec   kv
	}{
		{"left", put("k1", "a")},
		{"right", put("k1", "x")},
		{"left", put("k1", "b")},
		{"right", del("k1")},
		{"left", del("k1")},
		{"right", put("k2", "y")},
		{"right", del("k2")},
	}
	for i, s := range steps {
		produceKV(t, addr, s.topic, s.rec)
		readPerKey(t, app, addr, "outer", i+1)
	}
	expectPerKey(t, app, addr, "inner", map[string][]string{"k1": {"a+x", "b+x", "null"}})
	expectPerKey(t, app, addr, "leftjoin", map[string][]string{"k1": {"a+nil", "a+x", "b+x", "b+nil", "null"}})
	expectPerKey(t, app, addr, "outer", map[string][]string{
		"k1": {"a+nil", "a+x", "b+x", "b+nil", "null"}, "k2": {"nil+y", "null"}})
}

func TestTableFilterAndMapValuesPropagateTombstones(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "prices", 1)
	createTopic(t, addr, "expensive", 1)
	b := streams.NewBuilder()
	prices := streams.Table(b, "prices", statestore.String{}, statestore.Int64{})
	labelled := streams.MapTableValues(prices.Filter(func(_ string, p int64) bool { return p >= 100 }),
		func(item string, p int64) string { return fmt.Sprintf("%s costs %d", item, p) }, statestore.String{})
	labelled.ToStream().To("expensive", nil, nil)
	app := startApp(t, build(t, b), streams.Config{ApplicationID: "ft", BootstrapServers: []string{addr}, StateDir: t.TempDir()})

	i64 := func(v int64) string { b, _ := statestore.Int64{}.Serialize(v); return string(b) }
	produceKV(t, addr, "prices",
		put("tv", i64(500)), // passes
		put("pen", i64(2)),  // never passed: nothing
		put("tv", i64(50)),  // no longer passes: tombstone
		put("pen", i64(3)),  // still not: nothing
		put("car", i64(900)),
		del("car"), // deleted: tombstone
		del("hat"), // never existed: nothing
		put("tv", i64(120)))
	expectPerKey(t, app, addr, "expensive", map[string][]string{
		"tv": {"tv costs 500", "null", "tv costs 120"}, "car": {"car costs 900", "null"}})
}

func TestSplitRoutesEachRecordToTheFirstMatchingBranchAndToFuncChoosesTopics(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	for _, topic := range []string{"logs", "errors", "warnings", "other", "level-error", "level-info"} {
		createTopic(t, addr, topic, 1)
	}
	b := streams.NewBuilder()
	logs := streams.Stream(b, "logs", statestore.String{}, statestore.String{})
	branches := logs.Split(streams.Named("route")).
		Branch(func(_, v string) bool { return strings.HasPrefix(v, "ERROR") }, "errors").
		Branch(func(_, v string) bool { return strings.Contains(v, "WARN") || strings.HasPrefix(v, "ERROR") }, "warnings").
		Default("other")
	var names []string
	for name := range branches {
		names = append(names, name)
	}
	sort.Strings(names)
	if want := []string{"route-errors", "route-other", "route-warnings"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("branches %v, want %v", names, want)
	}
	branches["route-errors"].To("errors", nil, nil)
	branches["route-warnings"].To("warnings", nil, nil)
	branches["route-other"].To("other", nil, nil)
	logs.ToFunc(func(_, v string) string {
		if strings.HasPrefix(v, "ERROR") {
			return "level-error"
		}
		return "level-info"
	}, nil, nil)
	app := startApp(t, build(t, b), streams.Config{ApplicationID: "split", BootstrapServers: []string{addr}})

	produceKV(t, addr, "logs", put("a", "ERROR disk"), put("b", "WARN cpu"), put("c", "INFO ok"),
		put("d", "ERROR WARN both"), put("e", "INFO WARN late"))
	expectPerKey(t, app, addr, "errors", map[string][]string{"a": {"ERROR disk"}, "d": {"ERROR WARN both"}})
	expectPerKey(t, app, addr, "warnings", map[string][]string{"b": {"WARN cpu"}, "e": {"INFO WARN late"}})
	expectPerKey(t, app, addr, "other", map[string][]string{"c": {"INFO ok"}})
	expectPerKey(t, app, addr, "level-error", map[string][]string{"a": {"ERROR disk"}, "d": {"ERROR WARN both"}})
	expectPerKey(t, app, addr, "level-info", map[string][]string{"b": {"WARN cpu"}, "c": {"INFO ok"}, "e": {"INFO WARN late"}})
}

func TestStartFailsWhenJoinedTopicsAreNotCoPartitioned(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "orders", 2)
	createTopic(t, addr, "customers", 3)
	b := streams.NewBuilder()
	orders := streams.Stream(b, "orders", statestore.String{}, statestore.String{})
	customers := streams.Table(b, "customers", statestore.String{}, statestore.String{})
	streams.JoinTable(orders, customers, func(o, c string) string { return o + c }, statestore.String{}).
		To("out", nil, nil)
	app, err := streams.New(build(t, b), streams.Config{ApplicationID: "cpj", BootstrapServers: []string{addr}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	err = app.Start(ctxT(t))
	if !errors.Is(err, streams.ErrCoPartitioning) {
		t.Fatalf("Start error = %v, want ErrCoPartitioning", err)
	}
	for _, part := range []string{`"orders" has 2`, `"customers" has 3`} {
		if !strings.Contains(err.Error(), part) {
			t.Fatalf("Start error %q does not name %s", err, part)
		}
	}
}

func TestStreamReKeyedFromMorePartitionsJoinsATableThroughARepartitionTopicSizedLikeTheTable(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "orders", 3) // keyed by order id
	createTopic(t, addr, "customers", 2)
	createTopic(t, addr, "enriched", 1)
	b := streams.NewBuilder()
	orders := streams.Stream(b, "orders", statestore.String{}, statestore.String{})
	byCustomer := streams.SelectKey(orders, func(_, o string) string { return strings.SplitN(o, ":", 2)[0] }, statestore.String{})
	customers := streams.Table(b, "customers", statestore.String{}, statestore.String{}, streams.Materialized("customers"))
	streams.JoinTable(byCustomer, customers, func(o, c string) string { return o + "@" + c }, statestore.String{}, streams.Named("by-customer")).
		To("enriched", nil, nil)
	app := startApp(t, build(t, b), streams.Config{ApplicationID: "rk", BootstrapServers: []string{addr}, StateDir: t.TempDir()})

	details, err := kadm.NewClient(client(t, addr)).ListTopics(ctxT(t), "rk-by-customer-repartition")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(details["rk-by-customer-repartition"].Partitions); n != 2 {
		t.Fatalf("repartition topic has %d partitions, want the table's 2", n)
	}
	produceKV(t, addr, "customers", put("c1", "alice"), put("c2", "bob"))
	waitRecords(t, addr, "rk-customers-changelog", 2)
	// Orders of one customer come from several partitions of "orders": one at a time, so that
	// their order in the output is defined.
	produceKV(t, addr, "orders", put("o1", "c1:book"), put("o2", "c2:ink"), put("o4", "c3:cup"))
	expectPerKey(t, app, addr, "enriched", map[string][]string{"c1": {"c1:book@alice"}, "c2": {"c2:ink@bob"}})
	produceKV(t, addr, "orders", put("o3", "c1:pen"))
	expectPerKey(t, app, addr, "enriched", map[string][]string{"c1": {"c1:book@alice", "c1:pen@alice"}, "c2": {"c2:ink@bob"}})
}

func TestStreamToTableKeepsTheLatestValuePerKeyAndDeletesOnTombstones(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "status", 1)
	createTopic(t, addr, "online", 1)
	b := streams.NewBuilder()
	streams.Stream(b, "status", statestore.String{}, statestore.String{}).
		ToTable(streams.Materialized("status")).
		Filter(func(_, s string) bool { return s == "online" }).
		ToStream().To("online", nil, nil)
	app := startApp(t, build(t, b), streams.Config{ApplicationID: "tt2", BootstrapServers: []string{addr}, StateDir: t.TempDir()})
	produceKV(t, addr, "status", put("ann", "online"), put("bob", "away"), put("ann", "online"),
		put("bob", "online"), put("ann", "away"), del("bob"), del("cid"))
	expectPerKey(t, app, addr, "online", map[string][]string{"ann": {"online", "online", "null"}, "bob": {"online", "null"}})
	waitRecords(t, addr, "tt2-status-changelog", 1)
}
