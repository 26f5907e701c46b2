package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// Sale is a value of the sales topic (keyed by sku).
type Sale struct {
	Store     int    `json:"store"`
	SKU       string `json:"sku"`
	Qty       int64  `json:"qty"`
	UnitCents int64  `json:"unit_price_cents"`
	EventTime int64  `json:"event_time"` // ms since the epoch; also the record's timestamp
}

// Shipment is a value of the shipments topic (keyed by sku): units delivered to the warehouse.
type Shipment struct {
	SKU       string `json:"sku"`
	Qty       int64  `json:"qty"`
	EventTime int64  `json:"event_time"`
}

// Day is one simulated trading day: the morning's shipments, then the day's sales, each in
// event-time order.
type Day struct {
	Shipments []Shipment
	Sales     []Sale
}

// Generator produces the same days for the same seed, stores and catalogue: the input of the
// pipeline and of the tests' oracle.
type Generator struct {
	r           *rand.Rand
	products    []CatalogueProduct
	stores      int
	salesPerDay int
	day         int
}

// Epoch is the first simulated day's midnight.
var Epoch = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// NewGenerator returns a generator of salesPerDay sales a day over stores stores.
func NewGenerator(seed int64, products []CatalogueProduct, stores, salesPerDay int) *Generator {
	if stores < 1 {
		stores = 1
	}
	return &Generator{r: rand.New(rand.NewPCG(uint64(seed), 0x5a1e5)), products: products, stores: stores, salesPerDay: salesPerDay}
}

// Next returns the next day. On the first day every product receives its opening stock; on
// later days a few products get a delivery.
func (g *Generator) Next() Day {
	var d Day
	base := Epoch.Add(time.Duration(g.day) * 24 * time.Hour)
	g.day++
	at := base.Add(6 * time.Hour).UnixMilli()
	for _, p := range g.products {
		var qty int64
		switch {
		case g.day == 1:
			qty = p.ReorderPoint + p.ReorderQty
		case g.r.IntN(20) == 0:
			qty = 20 + g.r.Int64N(40)
		default:
			continue
		}
		d.Shipments = append(d.Shipments, Shipment{SKU: p.SKU, Qty: qty, EventTime: at})
		at++
	}
	open := base.Add(8 * time.Hour).UnixMilli()
	step := (12 * time.Hour).Milliseconds() / int64(max(g.salesPerDay, 1))
	n := len(g.products)
	for i := range g.salesPerDay {
		// Low-numbered skus sell more: a long tail, as in a real shop.
		p := g.products[g.r.IntN(g.r.IntN(n)+1)]
		d.Sales = append(d.Sales, Sale{
			Store:     1 + g.r.IntN(g.stores),
			SKU:       p.SKU,
			Qty:       1 + g.r.Int64N(4),
			UnitCents: p.PriceCents,
			EventTime: open + int64(i)*step,
		})
	}
	return d
}

// Line renders an event as a line of a file: the sku (the record key), "|", the JSON value, as
// `gregor produce --key-separator '|'` reads it.
func Line(sku string, value any) (string, error) {
	b, err := json.Marshal(value)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", sku, err)
	}
	return sku + "|" + string(b), nil
}
