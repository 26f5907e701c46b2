package main

import "time"

// Price adjustment: sales velocity per sku in a hopping window of WindowSize advancing by Hop
// (Kafka Streams' TimeWindows.ofSizeAndGrace(1h, 10m).advanceBy(5m)), against stock cover.
// The window is kept in the sku's Inventory as Buckets, one per hop, so the velocity and the
// stock it is compared with are read in the same step: exact across restarts like the rest of
// the store.
const (
	WindowSize = time.Hour
	Hop        = 5 * time.Minute
	Grace      = 10 * time.Minute
	buckets    = int(WindowSize / Hop)

	// FastUnits and FastCoverHops: at least FastUnits sold in the window with less than
	// FastCoverHops hops of stock left at that pace raises the price by one PriceStepPercent.
	FastUnits     = 8
	FastCoverHops = 24 // two hours
	// SlowUnits and SlowCoverHops: at most SlowUnits sold in the window with more than
	// SlowCoverHops hops of stock left discounts it by one step.
	SlowUnits     = 2
	SlowCoverHops = 12 * 24 * 2 // two days
	// PriceStepPercent is one adjustment; prices stay within ±PriceBoundPercent of base_price.
	PriceStepPercent  = 5
	PriceBoundPercent = 20
)

// PriceAdjustment is a value of the price-adjustments topic and a row of the prices table.
type PriceAdjustment struct {
	SKU        string `json:"sku"`
	PriceCents int64  `json:"price_cents"`
	Reason     string `json:"reason"`
	EventTime  int64  `json:"event_time"`
}

// Reprice counts a sale of qty at eventTime (ms) into the sku's window and returns the price
// adjustment it triggers, if any: at most one per hop, only when the price changes. A sale
// more than Grace behind the latest hop seen is too late for the window and is not counted.
// A price changed in SQL (products.price) becomes the current price.
func Reprice(inv Inventory, qty, eventTime int64, p ProductRow) (Inventory, *PriceAdjustment, error) {
	list, err := Cents(p.Price)
	if err != nil {
		return inv, nil, err
	}
	base, err := Cents(p.BasePrice)
	if err != nil {
		return inv, nil, err
	}
	if list != inv.ListCents {
		inv.ListCents, inv.PriceCents = list, list
	}
	hop := Hop.Milliseconds()
	start := eventTime - eventTime%hop
	if len(inv.Buckets) != buckets {
		inv.Buckets = make([]int64, buckets)
	}
	if start > inv.HopStart {
		// Advance the window: the hops that fall out of it are forgotten.
		shift := int(min((start-inv.HopStart)/hop, int64(buckets)))
		copy(inv.Buckets, inv.Buckets[shift:])
		clear(inv.Buckets[buckets-shift:])
		inv.HopStart = start
	}
	if late := inv.HopStart - start; late <= Grace.Milliseconds() {
		inv.Buckets[buckets-1-int(late/hop)] += qty
	}
	if inv.AdjustedHop == inv.HopStart {
		return inv, nil, nil
	}
	var sold int64
	for _, b := range inv.Buckets {
		sold += b
	}
	price, reason := inv.PriceCents, ""
	step := base * PriceStepPercent / 100
	switch {
	case sold >= FastUnits && inv.OnHand*int64(buckets) < sold*FastCoverHops:
		price, reason = min(price+step, base*(100+PriceBoundPercent)/100), "selling fast, low cover"
	case sold <= SlowUnits && inv.OnHand*int64(buckets) > max(sold, 1)*SlowCoverHops:
		price, reason = max(price-step, base*(100-PriceBoundPercent)/100), "selling slowly, high cover"
	}
	if price == inv.PriceCents {
		return inv, nil, nil
	}
	inv.PriceCents, inv.AdjustedHop = price, inv.HopStart
	return inv, &PriceAdjustment{SKU: p.SKU, PriceCents: price, Reason: reason, EventTime: eventTime}, nil
}
