package main

import (
	"context"
	_ "embed"
	"fmt"
	"math/rand/v2"

	"github.com/jackc/pgx/v5"
)

//go:embed schema.sql
var schemaSQL string

// CatalogueProduct is one row of the seeded products table.
type CatalogueProduct struct {
	SKU          string
	Name         string
	PriceCents   int64
	ReorderPoint int64
	ReorderQty   int64
}

var (
	adjectives = []string{"red", "blue", "organic", "large", "small", "classic", "spicy", "sweet", "family", "mini"}
	nouns      = []string{"apples", "coffee", "pasta", "soap", "tea", "rice", "socks", "batteries", "candles", "cookies", "juice", "honey"}
)

// Catalogue returns n products, the same for the same seed.
func Catalogue(seed int64, n int) []CatalogueProduct {
	r := rand.New(rand.NewPCG(uint64(seed), 0xca7a))
	out := make([]CatalogueProduct, n)
	for i := range out {
		out[i] = CatalogueProduct{
			SKU:          fmt.Sprintf("SKU-%04d", i+1),
			Name:         adjectives[r.IntN(len(adjectives))] + " " + nouns[r.IntN(len(nouns))],
			PriceCents:   99 + r.Int64N(5000),
			ReorderPoint: 10 + r.Int64N(30),
			ReorderQty:   40 + r.Int64N(80),
		}
	}
	return out
}

// SetUp creates the schema and seeds the catalogue (a product already there is left alone).
func SetUp(ctx context.Context, conn *pgx.Conn, products []CatalogueProduct) error {
	if _, err := conn.Exec(ctx, schemaSQL); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	b := &pgx.Batch{}
	for _, p := range products {
		price := fmt.Sprintf("%d.%02d", p.PriceCents/100, p.PriceCents%100)
		b.Queue(`INSERT INTO products (sku, name, base_price, price, reorder_point, reorder_qty)
			VALUES ($1, $2, $3, $3, $4, $5) ON CONFLICT (sku) DO NOTHING`,
			p.SKU, p.Name, price, p.ReorderPoint, p.ReorderQty)
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("seed products: %w", err)
	}
	return nil
}
