package postgres_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/connectors/postgres"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkSinkPut measures the sink task alone: Puts of 1,000 schemaless records (4 columns) into
// an existing table, each Put one transaction.
func BenchmarkSinkPut(b *testing.B) {
	pg := testpg.Start(b)
	for _, mode := range []string{"insert", "upsert"} {
		b.Run(mode, func(b *testing.B) {
			db := pg.NewDatabase(b)
			pg.Exec(b, db, `CREATE TABLE bench (id bigint PRIMARY KEY, name text, amount double precision, ok boolean)`)
			task := (&postgres.SinkConnector{}).NewTask()
			cfg := map[string]string{"name": "bench", "connection.url": pg.URL(db), "topics": "bench", "insert.mode": mode,
				"pk.mode": "record_value", "pk.fields": "id"}
			if err := task.Start(nil, cfg); err != nil {
				b.Fatal(err)
			}
			defer task.Stop()
			const batch = 1000
			records := make([]connect.SinkRecord, batch)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range records {
					id := int64(i*batch + j)
					if mode == "upsert" {
						id %= 50_000 // half the batches update existing rows
					}
					records[j] = connect.SinkRecord{Topic: "bench", Offset: id, Value: map[any]any{
						"id": id, "name": "name-" + strconv.FormatInt(id, 10), "amount": float64(id) * 1.25, "ok": id%2 == 0}}
				}
				if err := task.Put(records); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkSinkPipeline measures topic → worker → PostgresSink → table end to end: each iteration
// produces 100,000 JSON records to a fresh topic and times a new connector until the table holds
// them all.
func BenchmarkSinkPipeline(b *testing.B) {
	const n = 100_000
	pg := testpg.Start(b)
	tb := testbroker.Start(b)
	w := sinkWorker(b, tb, "")
	cl := sinkKafka(b, tb)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := pg.NewDatabase(b)
		topic := fmt.Sprintf("pipeline-%d", i)
		sinkTopics(b, tb, topic)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		for j := 0; j < n; j++ {
			cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf(`{"id":%d}`, j)),
				Value: []byte(fmt.Sprintf(`{"name":"name-%d","amount":%d.25,"ok":%v}`, j, j, j%2 == 0))}, nil)
		}
		if err := cl.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		conn := pg.Connect(b, db)
		b.StartTimer()
		sinkCreate(b, w, "sink-"+topic, sinkProps(pg, db, topic, "auto.create", "true", "insert.mode", "upsert", "pk.mode", "record_key"))
		testutil.CheckFor(b, 2*time.Minute, 20*time.Millisecond, func() error {
			var count int
			_ = conn.QueryRow(context.Background(), "SELECT count(*) FROM "+`"`+topic+`"`).Scan(&count)
			if count != n {
				return fmt.Errorf("table holds %d of %d rows", count, n)
			}
			return nil
		})
		b.StopTimer()
		if err := w.Herder.DeleteConnector("sink-" + topic); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}
