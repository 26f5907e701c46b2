package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStepReordersOncePerCrossingUntilTheOrderArrives(t *testing.T) {
	p := ProductRow{SKU: "S", ReorderPoint: 10, ReorderQty: 30}
	var inv Inventory
	var seqs []int64
	for _, m := range []Movement{
		{Delta: 12, Shipment: true}, // 12 on hand
		{Delta: -3},                 // 9 < 10: reorder 1
		{Delta: -5},                 // 4, on order: none
		{Delta: 20, Shipment: true}, // 24 on hand, 10 still on order
		{Delta: -20},                // 4: still 10 on order, none
		{Delta: 10, Shipment: true}, // 14, the order is complete
		{Delta: -5},                 // 9 < 10: reorder 2
	} {
		var r *Reorder
		inv, r = Step(inv, m, p)
		if r != nil {
			seqs = append(seqs, r.Seq)
		}
	}
	if len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 {
		t.Fatalf("reorders %v, want [1 2]", seqs)
	}
	if inv.OnHand != 9 || inv.OnOrder != 30 {
		t.Fatalf("inventory %+v, want 9 on hand and 30 on order", inv)
	}
}

func TestRepriceRaisesOncePerHopWithinTheBoundAndDropsLateSales(t *testing.T) {
	p := ProductRow{SKU: "S", BasePrice: "10.00", Price: "10.00"}
	inv := Inventory{OnHand: 10}
	hop := Hop.Milliseconds()
	t0 := Epoch.Add(8 * time.Hour).UnixMilli()
	var prices []int64
	for i := range 12 * 6 { // six hours, one sale of 4 every hop: 48 a window, cover < 2h
		var a *PriceAdjustment
		var err error
		inv, a, err = Reprice(inv, 4, t0+int64(i)*hop, p)
		if err != nil {
			t.Fatal(err)
		}
		if a != nil {
			if !strings.Contains(a.Reason, "fast") {
				t.Fatalf("adjustment %+v, want a raise", a)
			}
			prices = append(prices, a.PriceCents)
		}
	}
	want := []int64{1050, 1100, 1150, 1200} // +5% per hop from the second hop on, up to +20%
	if len(prices) != len(want) {
		t.Fatalf("prices %v, want %v", prices, want)
	}
	for i := range want {
		if prices[i] != want[i] {
			t.Fatalf("prices %v, want %v", prices, want)
		}
	}
	before := inv.Buckets[buckets-1]
	late := t0 + int64(12*6-1)*hop - Grace.Milliseconds() - hop
	inv, _, _ = Reprice(inv, 100, late, p)
	var sum int64
	for _, b := range inv.Buckets {
		sum += b
	}
	if sum != int64(buckets)*4 || inv.Buckets[buckets-1] != before {
		t.Fatalf("a sale later than the grace period was counted: %v", inv.Buckets)
	}
}

func TestGeneratorIsDeterministicAndWritesKeyedLines(t *testing.T) {
	cat := Catalogue(3, 50)
	a, b := NewGenerator(9, cat, 4, 200), NewGenerator(9, cat, 4, 200)
	for range 3 {
		da, db := a.Next(), b.Next()
		if fmt.Sprint(da) != fmt.Sprint(db) {
			t.Fatal("the same seed gave different days")
		}
		for _, s := range da.Sales {
			if s.Store < 1 || s.Store > 4 || s.Qty < 1 {
				t.Fatalf("sale %+v out of range", s)
			}
		}
	}
	dir := t.TempDir()
	if err := WriteFiles(NewGenerator(9, cat, 4, 200), dir, 500); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "sales.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 500 {
		t.Fatalf("%d sales lines, want 500", len(lines))
	}
	key, value, _ := strings.Cut(lines[0], "|")
	var s Sale
	if err := json.Unmarshal([]byte(value), &s); err != nil || s.SKU != key {
		t.Fatalf("line %q: key %q, sale %+v, %v", lines[0], key, s, err)
	}
}
