package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ApplicationID is the topology's consumer group and the prefix of its internal topics.
const ApplicationID = "retail"

// AppConfig is the topology's configuration against bootstrap with its state under stateDir;
// logger nil is slog.Default().
func AppConfig(bootstrap []string, stateDir string, commitInterval time.Duration, logger *slog.Logger) streams.Config {
	return streams.Config{
		ApplicationID:    ApplicationID,
		BootstrapServers: bootstrap,
		StateDir:         stateDir,
		CommitInterval:   commitInterval,
		Logger:           logger,
	}
}

// StartApp starts the topology with cfg (see AppConfig).
func StartApp(ctx context.Context, cfg streams.Config) (*streams.App, error) {
	topo, err := Topology()
	if err != nil {
		return nil, err
	}
	app, err := streams.New(topo, cfg)
	if err != nil {
		return nil, err
	}
	if err := app.Start(ctx); err != nil {
		app.Close()
		return nil, err
	}
	return app, nil
}

// ShipmentRecords and SaleRecords are a day's events as records keyed by sku, timestamped with
// their event time.
func ShipmentRecords(d Day) ([]*kgo.Record, error) {
	out := make([]*kgo.Record, 0, len(d.Shipments))
	for _, s := range d.Shipments {
		r, err := record(ShipmentsTopic, s.SKU, s, s.EventTime)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// SaleRecords: see ShipmentRecords.
func SaleRecords(d Day) ([]*kgo.Record, error) {
	out := make([]*kgo.Record, 0, len(d.Sales))
	for _, s := range d.Sales {
		r, err := record(SalesTopic, s.SKU, s, s.EventTime)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func record(topic, key string, value any, ms int64) (*kgo.Record, error) {
	v, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("encode %s record: %w", topic, err)
	}
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: v, Timestamp: time.UnixMilli(ms)}, nil
}

// Produce produces days from g until total sales went out, at rate sales per second (0: as fast
// as the broker takes them), adding each batch to sent if not nil. A day's shipments go out
// before its sales.
func Produce(ctx context.Context, cl *kgo.Client, g *Generator, total, rate int, sent *atomic.Int64) error {
	start := time.Now()
	done := 0
	for done < total {
		d := g.Next()
		ship, err := ShipmentRecords(d)
		if err != nil {
			return err
		}
		if err := cl.ProduceSync(ctx, ship...).FirstErr(); err != nil {
			return fmt.Errorf("produce shipments: %w", err)
		}
		sales, err := SaleRecords(d)
		if err != nil {
			return err
		}
		for len(sales) > 0 && done < total {
			n := min(len(sales), total-done, max(rate/10, 1))
			if rate == 0 {
				n = min(len(sales), total-done)
			}
			if err := cl.ProduceSync(ctx, sales[:n]...).FirstErr(); err != nil {
				return fmt.Errorf("produce sales: %w", err)
			}
			sales, done = sales[n:], done+n
			if sent != nil {
				sent.Add(int64(n))
			}
			if rate > 0 {
				// NB: pace by the total so far, not per batch, so a slow batch is caught up.
				ahead := time.Duration(float64(done)/float64(rate)*float64(time.Second)) - time.Since(start)
				if ahead > 0 {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(ahead):
					}
				}
			}
		}
	}
	return nil
}

// WriteFiles writes the days of g until total sales to dir/shipments.txt and dir/sales.txt,
// one "sku|json" line per event.
//
// NB: keyed lines, not the bare values Kafka's FileStreamSource reads: that connector produces
// records without keys, and the topology needs the sku as the key (see README.md).
func WriteFiles(g *Generator, dir string, total int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ship, err := os.Create(filepath.Join(dir, "shipments.txt"))
	if err != nil {
		return err
	}
	defer ship.Close()
	sales, err := os.Create(filepath.Join(dir, "sales.txt"))
	if err != nil {
		return err
	}
	defer sales.Close()
	sw, aw := bufio.NewWriter(ship), bufio.NewWriter(sales)
	for sent := 0; sent < total; {
		d := g.Next()
		for _, s := range d.Shipments {
			l, err := Line(s.SKU, s)
			if err != nil {
				return err
			}
			fmt.Fprintln(sw, l)
		}
		for _, s := range d.Sales {
			if sent == total {
				break
			}
			l, err := Line(s.SKU, s)
			if err != nil {
				return err
			}
			fmt.Fprintln(aw, l)
			sent++
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	if err := aw.Flush(); err != nil {
		return err
	}
	if err := ship.Close(); err != nil {
		return err
	}
	return sales.Close()
}
