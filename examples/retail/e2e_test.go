package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestRetailPipelineWritesExactlyTheOraclesReorders is issue 11's acceptance, end to end: a
// catalogue of 300 products in Postgres reaches the topology through the CDC source; six
// simulated days of shipments and sales (9,000 sales over 5 stores) go through the topology;
// its reorders reach Postgres through the sink. Along the way
//   - after day 2 a reorder_point is raised with SQL UPDATE, and the sku is reordered at its
//     next movement (the oracle without the change differs, so the change is seen to matter);
//   - during day 3's sales the topology is closed and started again with its state directory;
//   - during day 4's sales an instance is killed (cut from the broker, committing nothing more)
//     after processing records it had not committed, and a new one takes over with an empty
//     state directory;
//   - during day 5's sales it is closed, its state directory is wiped, and it is started again
//     (restoring from the changelogs).
//
// The reorders table then equals, row for row, what the test computes from the generator's
// output with Step, and still does once the sink has committed the end of the reorders topic.
func TestRetailPipelineWritesExactlyTheOraclesReorders(t *testing.T) {
	const (
		days        = 6
		salesPerDay = 1500
		raisedPoint = 100_000
		repricedSKU = "SKU-0001"
	)
	catalogue := Catalogue(1, 300)
	p := startPipeline(t, catalogue)
	g := NewGenerator(7, catalogue, 5, salesPerDay)
	want, unchanged := newOracle(catalogue), newOracle(catalogue)
	ctx := context.Background()
	start := time.Now()

	var raisedSKU string
	for d := range days {
		day := g.Next()
		p.produce(ShipmentRecords(day))
		want.shipments(day)
		unchanged.shipments(day)
		p.caughtUp()

		sales, err := SaleRecords(day)
		if err != nil {
			t.Fatal(err)
		}
		half := len(sales) / 2
		p.produce(sales[:half], nil)
		switch d {
		case 3:
			p.stopApp()
			p.startApp()
		case 4:
			// A member that will be killed takes over, processes part of the day, and is killed.
			p.stopApp()
			p.startVictim()
			p.produce(sales[half:half+half/2], nil)
			p.waitVictimProcessed(int64(half / 2))
			p.killApp()
			p.startApp()
			half += half / 2
		case 5:
			p.stopApp()
			if err := os.RemoveAll(p.stateDir); err != nil {
				t.Fatal(err)
			}
			p.startApp()
		}
		p.produce(sales[half:], nil)
		want.sales(t, day)
		unchanged.sales(t, day)
		p.caughtUp()

		if raisedSKU != "" && d == 3 {
			// The day after the change: the raised sku was reordered at its new point.
			testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
				var n int
				if err := p.conn.QueryRow(ctx, `SELECT count(*) FROM reorders WHERE sku = $1 AND reorder_point = $2`, raisedSKU, raisedPoint).Scan(&n); err != nil {
					return err
				}
				if n == 0 {
					return fmt.Errorf("no reorder of %s at reorder_point %d yet", raisedSKU, raisedPoint)
				}
				return nil
			})
		}
		if d == 2 {
			raisedSKU = raiseable(t, want, salesOf(g, catalogue, d+1))
			before, err := p.ends(ProductsTopic)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.conn.Exec(ctx, `UPDATE products SET reorder_point = $1, updated_at = now() WHERE sku = $2`, raisedPoint, raisedSKU); err != nil {
				t.Fatal(err)
			}
			pr := want.products[raisedSKU]
			pr.ReorderPoint = raisedPoint
			want.products[raisedSKU] = pr
			// A new list price for the best seller: its later adjustments start from it.
			if _, err := p.conn.Exec(ctx, `UPDATE products SET price = price * 1.10, updated_at = now() WHERE sku = $1`, repricedSKU); err != nil {
				t.Fatal(err)
			}
			var price string
			if err := p.conn.QueryRow(ctx, `SELECT price::text FROM products WHERE sku = $1`, repricedSKU).Scan(&price); err != nil {
				t.Fatal(err)
			}
			pr = want.products[repricedSKU]
			pr.Price = price
			want.products[repricedSKU] = pr
			p.waitEnd(ProductsTopic, before+2)
			p.caughtUp()
		}
	}
	wantPrices := want.priceRows()
	if strings.Join(wantPrices, "\n") == strings.Join(unchanged.priceRows(), "\n") {
		t.Fatalf("the new list price of %s changed no price adjustment: the test cannot see the change", repricedSKU)
	}
	wantRows := want.rows()
	if strings.Join(wantRows, "\n") == strings.Join(unchanged.rows(), "\n") {
		t.Fatalf("raising the reorder_point of %s changed no reorder: the test cannot see the change", raisedSKU)
	}

	var got []string
	err := testutil.Poll(30*time.Second, 100*time.Millisecond, func() error {
		var err error
		if got, err = p.reorderRows(); err != nil {
			return err
		}
		if strings.Join(got, "\n") != strings.Join(wantRows, "\n") {
			return errors.New("the reorders table differs from the oracle")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reorders: %s", firstDifference(wantRows, got))
	}
	var gotPrices []string
	err = testutil.Poll(30*time.Second, 100*time.Millisecond, func() error {
		var err error
		if gotPrices, err = p.priceRows(); err != nil {
			return err
		}
		if strings.Join(gotPrices, "\n") != strings.Join(wantPrices, "\n") {
			return errors.New("the prices table differs from the oracle")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("prices: %s", firstDifference(wantPrices, gotPrices))
	}
	took := time.Since(start)
	p.waitCommitted("connect-reorders-sink", ReordersTopic)
	p.waitCommitted("connect-prices-sink", PricesTopic)
	if got, err = p.reorderRows(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(wantRows, "\n") {
		t.Fatalf("after the sink committed everything: %s", firstDifference(wantRows, got))
	}
	if gotPrices, err = p.priceRows(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(gotPrices, "\n") != strings.Join(wantPrices, "\n") {
		t.Fatalf("after the sink committed everything: prices: %s", firstDifference(wantPrices, gotPrices))
	}
	reasons := map[string]int{}
	for _, a := range want.prices {
		reasons[a.Reason]++
	}
	if len(reasons) != 2 {
		t.Errorf("the prices moved only one way: %v", reasons)
	}
	t.Logf("%d sales of %d days -> %d reorders, %d skus repriced %v, exact, in %v (restarts: 1 with state, 1 killed, 1 wiped)",
		days*salesPerDay, days, len(wantRows), len(wantPrices), reasons, took.Round(time.Millisecond))
}

// salesOf is day d's sales (a fresh generator with the test's seed replays the days).
func salesOf(_ *Generator, catalogue []CatalogueProduct, d int) Day {
	g := NewGenerator(7, catalogue, 5, 1500)
	var day Day
	for range d + 1 {
		day = g.Next()
	}
	return day
}

// raiseable picks a sku that nothing is on order for and that sells on the next day: raising
// its reorder_point must make its next sale reorder.
func raiseable(t *testing.T, o *oracle, next Day) string {
	t.Helper()
	for _, s := range next.Sales {
		if inv := o.inventory[s.SKU]; inv.OnOrder == 0 {
			return s.SKU
		}
	}
	t.Fatal("no sku without an open order sells tomorrow")
	return ""
}

// firstDifference says where two row lists part.
func firstDifference(want, got []string) string {
	for i := 0; i < len(want) && i < len(got); i++ {
		if want[i] != got[i] {
			return fmt.Sprintf("row %d: want %s, got %s", i, want[i], got[i])
		}
	}
	return fmt.Sprintf("want %d rows, got %d", len(want), len(got))
}
