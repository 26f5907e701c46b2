package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
)

// Topic names. ProductsTopic is the CDC source's topic for public.products with topic.prefix
// shop.
const (
	SalesTopic     = "sales"
	ShipmentsTopic = "shipments"
	ProductsTopic  = "shop.public.products"
	ReordersTopic  = "reorders"
	PricesTopic    = "price-adjustments"
	InventoryStore = "inventory"
)

// ProductRow is the products row as the CDC source renders it (decimal.handling.mode=string).
type ProductRow struct {
	SKU          string `json:"sku"`
	Name         string `json:"name"`
	BasePrice    string `json:"base_price"`
	Price        string `json:"price"`
	ReorderPoint int64  `json:"reorder_point"`
	ReorderQty   int64  `json:"reorder_qty"`
}

// ProductChange is the value of a products change event, Debezium's envelope without its
// schema (value.converter.schemas.enable=false); only after matters here. After is nil for a
// delete.
type ProductChange struct {
	After *ProductRow `json:"after"`
	Op    string      `json:"op,omitempty"`
}

// Movement is a sale or a shipment of one sku: Delta is what it does to the on-hand stock.
type Movement struct {
	Delta     int64 `json:"delta"`
	Shipment  bool  `json:"shipment,omitempty"`
	EventTime int64 `json:"event_time"`
}

// Priced is a movement joined with the product's current row.
type Priced struct {
	Movement Movement    `json:"movement"`
	Product  *ProductRow `json:"product"`
}

// Inventory is the state kept per sku in the inventory store.
type Inventory struct {
	OnHand   int64 `json:"on_hand"`
	OnOrder  int64 `json:"on_order"` // units reordered and not delivered yet
	Reorders int64 `json:"reorders"` // how many reorders were issued: the next one's seq - 1

	// Pricing (see Reprice): the current price, the list price it was last reset to, units sold
	// per hop of the window ending with the hop starting at HopStart (ms), and the hop of the
	// last adjustment.
	PriceCents  int64   `json:"price_cents,omitempty"`
	ListCents   int64   `json:"list_cents,omitempty"`
	Buckets     []int64 `json:"buckets,omitempty"`
	HopStart    int64   `json:"hop_start,omitempty"`
	AdjustedHop int64   `json:"adjusted_hop,omitempty"`
}

// Output is what the inventory processor forwards for one movement: a reorder, a price
// adjustment, both or neither (then nothing is forwarded).
type Output struct {
	Reorder *Reorder         `json:"reorder,omitempty"`
	Price   *PriceAdjustment `json:"price,omitempty"`
}

// Reorder is a value of the reorders topic and a row of the reorders table.
type Reorder struct {
	SKU          string `json:"sku"`
	Seq          int64  `json:"seq"`
	Qty          int64  `json:"qty"`
	OnHand       int64  `json:"on_hand"`
	ReorderPoint int64  `json:"reorder_point"`
	EventTime    int64  `json:"event_time"`
}

// Step applies one movement of a sku to its inventory and returns the reorder it triggers, if
// any: when on-hand + on-order falls below the reorder point and nothing is on order, the
// product's reorder_qty is ordered; a shipment reduces what is on order. It is the whole
// business rule, shared by the topology and the tests' oracle.
func Step(inv Inventory, m Movement, p ProductRow) (Inventory, *Reorder) {
	inv.OnHand += m.Delta
	if m.Shipment {
		inv.OnOrder = max(0, inv.OnOrder-m.Delta)
	}
	if inv.OnOrder > 0 || inv.OnHand+inv.OnOrder >= p.ReorderPoint || p.ReorderQty <= 0 {
		return inv, nil
	}
	inv.Reorders++
	inv.OnOrder = p.ReorderQty
	return inv, &Reorder{SKU: p.SKU, Seq: inv.Reorders, Qty: p.ReorderQty, OnHand: inv.OnHand,
		ReorderPoint: p.ReorderPoint, EventTime: m.EventTime}
}

// Topology is the retail pipeline:
//
//	sales, shipments ──merge──▶ movements ──join products (CDC table)──▶ inventory (store) ─┬─▶ reorders
//	                                                                                         └─▶ price-adjustments
func Topology() (*streams.Topology, error) {
	str := statestore.String{}
	b := streams.NewBuilder()
	products := streams.Table(b, ProductsTopic, str, statestore.JSON[ProductChange]{}, streams.Materialized("products"))
	sales := streams.MapValues(streams.Stream(b, SalesTopic, str, statestore.JSON[Sale]{}),
		func(_ string, s Sale) Movement { return Movement{Delta: -s.Qty, EventTime: s.EventTime} },
		statestore.JSON[Movement]{}, streams.Named("sale-movement"))
	shipments := streams.MapValues(streams.Stream(b, ShipmentsTopic, str, statestore.JSON[Shipment]{}),
		func(_ string, s Shipment) Movement {
			return Movement{Delta: s.Qty, Shipment: true, EventTime: s.EventTime}
		},
		statestore.JSON[Movement]{}, streams.Named("shipment-movement"))
	priced := streams.JoinTable(sales.Merge(shipments, streams.Named("movements")), products,
		func(m Movement, p ProductChange) Priced { return Priced{Movement: m, Product: p.After} },
		statestore.JSON[Priced]{}, streams.Named("movement-product"))
	streams.AddStore(b, InventoryStore)
	out := streams.Process(priced, func() streams.Processor[string, Priced, string, Output] { return &inventoryProcessor{} },
		str, statestore.JSON[Output]{}, streams.Named("inventory"), streams.ConnectStores(InventoryStore))
	reorders := streams.MapValues(out.Filter(func(_ string, o Output) bool { return o.Reorder != nil }, streams.Named("has-reorder")),
		func(_ string, o Output) Reorder { return *o.Reorder }, statestore.JSON[Reorder]{}, streams.Named("reorder"))
	reorders.To(ReordersTopic, nil, nil, streams.Named("reorders-sink"))
	prices := streams.MapValues(out.Filter(func(_ string, o Output) bool { return o.Price != nil }, streams.Named("has-price")),
		func(_ string, o Output) PriceAdjustment { return *o.Price }, statestore.JSON[PriceAdjustment]{}, streams.Named("price"))
	prices.To(PricesTopic, nil, nil, streams.Named("prices-sink"))
	return b.Build()
}

// inventoryProcessor keeps the Inventory of each sku and forwards the reorders Step decides.
type inventoryProcessor struct {
	store *statestore.Typed[string, Inventory]
}

func (p *inventoryProcessor) Init(ctx streams.ProcessorContext[string, Output]) error {
	kv, err := ctx.KeyValueStore(InventoryStore)
	if err != nil {
		return err
	}
	p.store = statestore.NewTyped(kv, statestore.String{}, statestore.JSON[Inventory]{})
	return nil
}

func (p *inventoryProcessor) Process(ctx streams.ProcessorContext[string, Output], rec streams.Record[string, Priced]) error {
	if rec.Value.Product == nil { // the product was deleted: its stock is no longer tracked
		return nil
	}
	inv, _, err := p.store.Get(rec.Key)
	if err != nil {
		return err
	}
	m, product := rec.Value.Movement, *rec.Value.Product
	var out Output
	inv, out.Reorder = Step(inv, m, product)
	if !m.Shipment {
		if inv, out.Price, err = Reprice(inv, -m.Delta, m.EventTime, product); err != nil {
			return fmt.Errorf("sku %s: %w", rec.Key, err)
		}
	}
	if err := p.store.Put(rec.Key, inv); err != nil {
		return err
	}
	if out.Reorder == nil && out.Price == nil {
		return nil
	}
	return ctx.Forward(streams.Record[string, Output]{Key: rec.Key, Value: out, Timestamp: rec.Timestamp})
}

func (p *inventoryProcessor) Close() error { return nil }

// Cents parses a numeric(10,2) as the CDC source renders it ("12.34") into cents.
func Cents(s string) (int64, error) {
	whole, frac, _ := strings.Cut(s, ".")
	frac = (frac + "00")[:2]
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("price %q: %w", s, err)
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("price %q: %w", s, err)
	}
	return w*100 + f, nil
}
