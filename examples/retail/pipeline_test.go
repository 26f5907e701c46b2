package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/gregor-streams/gregor/connect/transforms" // ExtractField$Key on the CDC source
	_ "github.com/gregor-streams/gregor/connectors/postgres"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testconnect"
	"github.com/gregor-streams/gregor/internal/testnet"
	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/gregor-streams/gregor/streams"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpg.StopShared()
	os.Exit(code)
}

// pipeline is the whole example running in the test: Postgres, a broker, a Connect worker with
// the example's two connectors, and the topology.
type pipeline struct {
	t        testing.TB
	conn     *pgx.Conn
	tb       *testbroker.Broker
	cl       *kgo.Client
	adm      *kadm.Client
	stateDir string
	app      *streams.App
	dialer   *testnet.Dialer // the victim's, see startVictim
}

// connectorConfig reads examples/retail/connectors/<file> and points it at the test's database.
func connectorConfig(t testing.TB, file string, pg *testpg.Server, db string) (string, map[string]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("connectors", file))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for k := range c.Config {
		switch k {
		case "database.hostname":
			c.Config[k] = pg.Host
		case "database.port":
			c.Config[k] = fmt.Sprint(pg.Port)
		case "database.user", "connection.user":
			c.Config[k] = pg.User
		case "database.dbname":
			c.Config[k] = db
		case "connection.url":
			c.Config[k] = fmt.Sprintf("jdbc:postgresql://%s:%d/%s", pg.Host, pg.Port, db)
		case "slot.name", "publication.name":
			c.Config[k] += "_" + db
		}
	}
	return c.Name, c.Config
}

func createConnector(t testing.TB, addr, name string, cfg map[string]string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "config": cfg})
	resp, err := http.Post("http://"+addr+"/connectors", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /connectors %s: %d %s", name, resp.StatusCode, data)
	}
}

func startPipeline(t testing.TB, catalogue []CatalogueProduct) *pipeline {
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	p := &pipeline{t: t, conn: pg.Connect(t, db), tb: testbroker.Start(t), stateDir: t.TempDir()}
	ctx := context.Background()
	if err := SetUp(ctx, p.conn, catalogue); err != nil {
		t.Fatal(err)
	}
	if err := CreateTopics(ctx, []string{p.tb.Addr()}, 3); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.tb.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	p.cl, p.adm = cl, kadm.NewClient(cl)
	worker := testconnect.StartStandalone(t, p.tb.Addr(), nil, "", nil)
	for _, f := range []string{"products-cdc.json", "reorders-sink.json", "prices-sink.json"} {
		name, cfg := connectorConfig(t, f, pg, db)
		createConnector(t, worker.Addr, name, cfg)
	}
	p.startApp()
	t.Cleanup(func() { p.stopApp() })
	// The catalogue's snapshot is in the topology's products table before any movement is
	// produced: the join takes the table as it is when a movement is processed.
	p.waitEnd(ProductsTopic, int64(len(catalogue)))
	p.caughtUp()
	return p
}

// testLogger discards the topology's logs unless GREGOR_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("GREGOR_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// groupOpts make a killed member's partitions move in seconds, not Kafka's 45 s.
var groupOpts = []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(200 * time.Millisecond)}

func (p *pipeline) startApp() {
	p.t.Helper()
	cfg := AppConfig([]string{p.tb.Addr()}, p.stateDir, 100*time.Millisecond, testLogger())
	cfg.ClientOptions = groupOpts
	app, err := StartApp(context.Background(), cfg)
	if err != nil {
		p.t.Fatal(err)
	}
	p.app = app
}

// startVictim starts the topology as a member that killApp can cut from the broker at once, as
// a killed process would be: it commits nothing more.
func (p *pipeline) startVictim() {
	p.t.Helper()
	p.dialer = &testnet.Dialer{}
	// It commits its input offsets only when it closes, which it never does: everything it
	// processes is processed again by the next instance.
	cfg := AppConfig([]string{p.tb.Addr()}, p.stateDir, time.Hour,
		// NB: the victim outlives its kill (abandoned, as a killed process would be): its logs
		// must not go to t.
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	cfg.ClientOptions = append([]kgo.Opt{kgo.Dialer(p.dialer.Dial), kgo.RecordDeliveryTimeout(3 * time.Second)}, groupOpts...)
	app, err := StartApp(context.Background(), cfg)
	if err != nil {
		p.t.Fatal(err)
	}
	p.app = app
}

// waitVictimProcessed waits until the victim has processed at least n records.
func (p *pipeline) waitVictimProcessed(n int64) {
	p.t.Helper()
	testutil.CheckFor(p.t, 30*time.Second, 20*time.Millisecond, func() error {
		if got := p.app.Stats().RecordsProcessed; got < n {
			return fmt.Errorf("the victim has processed %d records, not yet %d (err %v)", got, n, p.app.Err())
		}
		return nil
	})
}

// killApp severs the victim's connections and abandons it; its state directory stays behind,
// still its own, so the next instance starts on a fresh one.
func (p *pipeline) killApp() {
	p.t.Helper()
	p.dialer.Sever()
	go p.app.Close() // it cannot reach the broker any more; nothing waits for it
	p.app = nil
	p.stateDir = p.t.TempDir()
}

func (p *pipeline) stopApp() {
	if p.app == nil {
		return
	}
	if err := p.app.Close(); err != nil {
		p.t.Errorf("close the topology: %v", err)
	}
	p.app = nil
}

// ends is the sum of the end offsets of a topic's partitions.
func (p *pipeline) ends(topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ends, err := p.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, nil
}

// waitEnd waits until topic holds at least n records.
func (p *pipeline) waitEnd(topic string, n int64) {
	p.t.Helper()
	testutil.CheckFor(p.t, 30*time.Second, 50*time.Millisecond, func() error {
		got, err := p.ends(topic)
		if err != nil {
			return err
		}
		if got < n {
			return fmt.Errorf("%s has %d records, want %d", topic, got, n)
		}
		return nil
	})
}

// waitCommitted waits until group has committed the end of every partition of topics: it has
// processed everything produced so far.
func (p *pipeline) waitCommitted(group string, topics ...string) {
	p.t.Helper()
	testutil.CheckFor(p.t, 30*time.Second, 50*time.Millisecond, func() error {
		if p.app != nil {
			select {
			case <-p.app.Done():
				return fmt.Errorf("the topology stopped: %v", p.app.Err())
			default:
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := p.adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			return err
		}
		committed, err := p.adm.FetchOffsets(ctx, group)
		if err != nil {
			return err
		}
		var behind []string
		ends.Each(func(o kadm.ListedOffset) {
			if c, ok := committed.Lookup(o.Topic, o.Partition); (!ok && o.Offset > 0) || (ok && c.At != o.Offset) {
				behind = append(behind, fmt.Sprintf("%s-%d at %d of %d", o.Topic, o.Partition, c.At, o.Offset))
			}
		})
		if len(behind) > 0 {
			return fmt.Errorf("group %s behind: %s", group, strings.Join(behind, ", "))
		}
		return nil
	})
}

func (p *pipeline) produce(recs []*kgo.Record, err error) {
	p.t.Helper()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		p.t.Fatalf("produce: %v", err)
	}
}

// caughtUp waits until the topology has processed every movement and product change.
func (p *pipeline) caughtUp() {
	p.t.Helper()
	p.waitCommitted(ApplicationID, SalesTopic, ShipmentsTopic, ProductsTopic)
}

// reorderRows is the reorders table, one "sku|seq|qty|on_hand|reorder_point|event_time" per row
// ordered by sku and seq.
func (p *pipeline) reorderRows() ([]string, error) {
	rows, err := p.conn.Query(context.Background(), `SELECT sku, seq, qty, on_hand, reorder_point, event_time FROM reorders ORDER BY sku, seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r Reorder
		if err := rows.Scan(&r.SKU, &r.Seq, &r.Qty, &r.OnHand, &r.ReorderPoint, &r.EventTime); err != nil {
			return nil, err
		}
		out = append(out, r.row())
	}
	return out, rows.Err()
}

// priceRows is the prices table, one "sku|price_cents|reason|event_time" per row by sku.
func (p *pipeline) priceRows() ([]string, error) {
	rows, err := p.conn.Query(context.Background(), `SELECT sku, price_cents, reason, event_time FROM prices ORDER BY sku`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a PriceAdjustment
		if err := rows.Scan(&a.SKU, &a.PriceCents, &a.Reason, &a.EventTime); err != nil {
			return nil, err
		}
		out = append(out, a.row())
	}
	return out, rows.Err()
}

func (a PriceAdjustment) row() string {
	return fmt.Sprintf("%s|%d|%s|%d", a.SKU, a.PriceCents, a.Reason, a.EventTime)
}

func (r Reorder) row() string {
	return fmt.Sprintf("%s|%d|%d|%d|%d|%d", r.SKU, r.Seq, r.Qty, r.OnHand, r.ReorderPoint, r.EventTime)
}

// oracle computes the reorders independently of the pipeline, from the same movements in the
// order the test feeds them, with the products as the test changed them.
type oracle struct {
	products  map[string]ProductRow
	inventory map[string]Inventory
	reorders  []Reorder
	// pricing: every sale per sku, the price per sku, the hop of its last adjustment
	sold     map[string][]Sale
	price    map[string]int64
	list     map[string]int64
	adjusted map[string]int64
	prices   map[string]PriceAdjustment // the latest adjustment per sku: the prices table
}

func newOracle(catalogue []CatalogueProduct) *oracle {
	o := &oracle{products: map[string]ProductRow{}, inventory: map[string]Inventory{}, sold: map[string][]Sale{},
		price: map[string]int64{}, list: map[string]int64{}, adjusted: map[string]int64{}, prices: map[string]PriceAdjustment{}}
	for _, c := range catalogue {
		price := fmt.Sprintf("%d.%02d", c.PriceCents/100, c.PriceCents%100)
		o.products[c.SKU] = ProductRow{SKU: c.SKU, Name: c.Name, BasePrice: price, Price: price,
			ReorderPoint: c.ReorderPoint, ReorderQty: c.ReorderQty}
	}
	return o
}

// apply is the reorder rule written out again, apart from Step, so a mistake in Step shows
// up as a difference: a shipment adds to the stock and pays off what is on order; when nothing
// is on order and the stock falls below the reorder point, reorder_qty is ordered.
func (o *oracle) apply(sku string, m Movement) {
	inv, p := o.inventory[sku], o.products[sku]
	if m.Shipment {
		inv.OnHand += m.Delta
		inv.OnOrder -= min(inv.OnOrder, m.Delta)
	} else {
		inv.OnHand += m.Delta
	}
	if inv.OnOrder == 0 && inv.OnHand < p.ReorderPoint {
		inv.Reorders++
		inv.OnOrder = p.ReorderQty
		o.reorders = append(o.reorders, Reorder{SKU: sku, Seq: inv.Reorders, Qty: p.ReorderQty,
			OnHand: inv.OnHand, ReorderPoint: p.ReorderPoint, EventTime: m.EventTime})
	}
	o.inventory[sku] = inv
}

func (o *oracle) shipments(d Day) {
	for _, s := range d.Shipments {
		o.apply(s.SKU, Movement{Delta: s.Qty, Shipment: true, EventTime: s.EventTime})
	}
}

func (o *oracle) sales(t *testing.T, d Day) {
	for _, s := range d.Sales {
		o.apply(s.SKU, Movement{Delta: -s.Qty, EventTime: s.EventTime})
		o.reprice(t, s)
	}
}

// reprice is the pricing rule written out again, apart from Reprice: the window is the list of
// the sku's sales whose hop lies within WindowSize of the latest (the generator's sales of a
// sku come in event-time order, so none is late).
func (o *oracle) reprice(t *testing.T, s Sale) {
	p := o.products[s.SKU]
	list, err := Cents(p.Price)
	if err != nil {
		t.Fatal(err)
	}
	base, err := Cents(p.BasePrice)
	if err != nil {
		t.Fatal(err)
	}
	if list != o.list[s.SKU] {
		o.list[s.SKU], o.price[s.SKU] = list, list
	}
	hop := Hop.Milliseconds()
	now := s.EventTime - s.EventTime%hop
	o.sold[s.SKU] = append(o.sold[s.SKU], s)
	if o.adjusted[s.SKU] == now {
		return
	}
	var sold int64
	for _, x := range o.sold[s.SKU] {
		if now-(x.EventTime-x.EventTime%hop) < WindowSize.Milliseconds() {
			sold += x.Qty
		}
	}
	onHand, perHour := o.inventory[s.SKU].OnHand, float64(sold)
	coverHours := float64(onHand) / max(perHour, 1)
	price, reason := o.price[s.SKU], ""
	switch {
	case sold >= FastUnits && float64(onHand) < perHour*float64(FastCoverHops)*Hop.Hours():
		price, reason = min(price+base*PriceStepPercent/100, base*(100+PriceBoundPercent)/100), "selling fast, low cover"
	case sold <= SlowUnits && coverHours > float64(SlowCoverHops)*Hop.Hours():
		price, reason = max(price-base*PriceStepPercent/100, base*(100-PriceBoundPercent)/100), "selling slowly, high cover"
	}
	if price == o.price[s.SKU] {
		return
	}
	o.price[s.SKU], o.adjusted[s.SKU] = price, now
	o.prices[s.SKU] = PriceAdjustment{SKU: s.SKU, PriceCents: price, Reason: reason, EventTime: s.EventTime}
}

func (o *oracle) priceRows() []string {
	var out []string
	for _, a := range o.prices {
		out = append(out, a.row())
	}
	slices.Sort(out)
	return out
}

func (o *oracle) rows() []string {
	rs := slices.Clone(o.reorders)
	// Ordered as the table dump: by sku, then seq.
	slices.SortFunc(rs, func(a, b Reorder) int {
		return cmp.Or(strings.Compare(a.SKU, b.SKU), cmp.Compare(a.Seq, b.Seq))
	})
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.row()
	}
	return out
}
