package compat_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaVersions are the protocol levels sarama is run at: a current one, and Kafka 0.11 — the
// oldest that has record batches and headers — which makes sarama send old request versions
// (Produce v3, Fetch v4, Metadata v4, ListOffsets v1, CreateTopics v1, DescribeConfigs v0).
var saramaVersions = []struct {
	name    string
	version sarama.KafkaVersion
}{
	{"V3_6_0_0", sarama.V3_6_0_0},
	{"V0_11_0_0", sarama.V0_11_0_0},
}

var saramaCodecs = map[string]sarama.CompressionCodec{
	"none":   sarama.CompressionNone,
	"gzip":   sarama.CompressionGZIP,
	"snappy": sarama.CompressionSnappy,
	"lz4":    sarama.CompressionLZ4,
	"zstd":   sarama.CompressionZSTD,
}

func saramaConfig(v sarama.KafkaVersion) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = v
	cfg.ClientID = "gregor-compat"
	cfg.Net.DialTimeout = 5 * time.Second
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Retry.Backoff = 50 * time.Millisecond
	// Room for the 1 MiB record plus batch overhead; the topic's max.message.bytes is raised to match.
	cfg.Producer.MaxMessageBytes = 2 << 20
	cfg.Consumer.Return.Errors = true
	return cfg
}

func saramaMessage(topic string, r record) *sarama.ProducerMessage {
	m := &sarama.ProducerMessage{Topic: topic, Partition: r.Partition, Timestamp: r.Timestamp}
	// NB: a nil Encoder, not ByteEncoder(nil), is how sarama spells a null key or a tombstone.
	if r.Key != nil {
		m.Key = sarama.ByteEncoder(r.Key)
	}
	if r.Value != nil {
		m.Value = sarama.ByteEncoder(r.Value)
	}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: []byte(h.Value)})
	}
	return m
}

func fromSarama(m *sarama.ConsumerMessage) record {
	r := record{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, header{string(h.Key), string(h.Value)})
	}
	return r
}

// saramaConsume reads n messages from each listed partition with sarama's PartitionConsumer,
// starting at the oldest offset, and returns them partition by partition.
func saramaConsume(t *testing.T, addr string, cfg *sarama.Config, topic string, counts map[int32]int) []record {
	t.Helper()
	consumer, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama.NewConsumer: %v", err)
	}
	defer consumer.Close()
	partitions := make([]int32, 0, len(counts))
	for p := range counts {
		partitions = append(partitions, p)
	}
	slices.Sort(partitions)
	var out []record
	for _, p := range partitions {
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("ConsumePartition %s[%d]: %v", topic, p, err)
		}
		deadline := time.After(30 * time.Second)
		for got := 0; got < counts[p]; {
			select {
			case m := <-pc.Messages():
				out = append(out, fromSarama(m))
				got++
			case err := <-pc.Errors():
				t.Fatalf("sarama consume %s[%d]: %v", topic, p, err)
			case <-deadline:
				t.Fatalf("sarama consume %s[%d]: got %d of %d messages before the deadline", topic, p, got, counts[p])
			}
		}
		if hwm := pc.HighWaterMarkOffset(); hwm != int64(counts[p]) {
			t.Errorf("sarama consume %s[%d]: high watermark %d, want %d", topic, p, hwm, counts[p])
		}
		if err := pc.Close(); err != nil {
			t.Fatalf("close partition consumer: %v", err)
		}
	}
	return out
}

// TestSaramaSyncProducerRoundTripsEveryField writes the sample records (keys, headers, timestamps,
// null key, tombstone, empty value, 1 MiB value) with a SyncProducer under every codec and
// protocol level, reads them back with sarama's PartitionConsumer and with franz-go, and compares.
func TestSaramaSyncProducerRoundTripsEveryField(t *testing.T) {
	tb := startBroker(t)
	// NB: on the cluster, the current protocol level alone: the old one changes nothing replication
	// sees, and the cluster run is kept short.
	versions := saramaVersions
	if tb.clustered() {
		versions = versions[:1]
	}
	for _, sv := range versions {
		for _, codec := range codecs {
			if codec == "zstd" && !sv.version.IsAtLeast(sarama.V2_1_0_0) {
				continue // zstd needs Produce v7 (Kafka 2.1); sarama refuses it below.
			}
			t.Run(sv.name+"/"+codec, func(t *testing.T) {
				topic := fmt.Sprintf("sarama-sync-%s-%s", sv.name, codec)
				createTopic(t, tb.Addr(), topic, 2, map[string]string{"max.message.bytes": bigTopicMaxMessageBytes})

				cfg := saramaConfig(sv.version)
				cfg.Producer.Compression = saramaCodecs[codec]
				cfg.Producer.Partitioner = sarama.NewManualPartitioner
				producer, err := sarama.NewSyncProducer([]string{tb.Addr()}, cfg)
				if err != nil {
					t.Fatalf("NewSyncProducer: %v", err)
				}
				defer producer.Close()

				want := sampleRecords(true)
				// One more on partition 1, so a second partition is written and read too.
				want = append(want, record{Partition: 1, Key: []byte("p1"), Value: []byte("on-one"), Timestamp: want[0].Timestamp})
				var msgs []*sarama.ProducerMessage
				for _, r := range want {
					msgs = append(msgs, saramaMessage(topic, r))
				}
				// SendMessages lets sarama put several records into one (compressed) batch.
				if err := producer.SendMessages(msgs); err != nil {
					var pe sarama.ProducerErrors
					if errors.As(err, &pe) && len(pe) > 0 {
						t.Fatalf("SendMessages: %v (first: %v)", err, pe[0].Err)
					}
					t.Fatalf("SendMessages: %v", err)
				}
				next := map[int32]int64{}
				for i, m := range msgs {
					if m.Offset != next[m.Partition] {
						t.Errorf("produced record %d: offset %d, want %d", i, m.Offset, next[m.Partition])
					}
					next[m.Partition]++
				}
				// Per record, not per batch: the next send is its own request.
				single := record{Partition: 1, Key: []byte("single"), Value: []byte("sent alone"), Headers: []header{{"x", ""}}, Timestamp: want[0].Timestamp.Add(time.Hour)}
				p, off, err := producer.SendMessage(saramaMessage(topic, single))
				if err != nil || p != 1 || off != 1 {
					t.Fatalf("SendMessage: partition %d offset %d err %v, want 1 1 nil", p, off, err)
				}
				want = append(want, single)

				counts := map[int32]int{0: len(want) - 2, 1: 2}
				checkRecords(t, "sarama consumer", saramaConsume(t, tb.Addr(), cfg, topic, counts), want)

				var viaKgo []record
				for _, r := range readAll(t, tb.Addr(), topic, len(want)) {
					viaKgo = append(viaKgo, fromKgo(r))
				}
				checkRecords(t, "franz-go reading sarama's records", viaKgo, want)
			})
		}
	}
}

// TestSaramaAsyncProducerKeepsPartitionOrder sends numbered records with keys through an
// AsyncProducer (hash partitioner, batches of up to 50), then checks that every success came back,
// that each partition holds its records in send order (per-partition ordering), that each key
// stayed in one partition, and that the offsets the producer reported are where the consumer
// finds the records. The idempotent run adds InitProducerId and producer sequence numbers.
func TestSaramaAsyncProducerKeepsPartitionOrder(t *testing.T) {
	tb := startBroker(t)
	runs := []struct {
		name       string
		version    sarama.KafkaVersion
		codec      string
		idempotent bool
	}{
		{"V3_6_0_0/lz4", sarama.V3_6_0_0, "lz4", false},
		{"V3_6_0_0/zstd/idempotent", sarama.V3_6_0_0, "zstd", true},
		{"V0_11_0_0/snappy", sarama.V0_11_0_0, "snappy", false},
		{"V0_11_0_0/gzip", sarama.V0_11_0_0, "gzip", false},
	}
	const n = 2000
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			topic := "sarama-async-" + fmt.Sprint(run.idempotent) + "-" + run.codec
			createTopic(t, tb.Addr(), topic, 3, nil)

			cfg := saramaConfig(run.version)
			cfg.Producer.Return.Errors = true
			cfg.Producer.Compression = saramaCodecs[run.codec]
			cfg.Producer.Flush.Messages = 50
			cfg.Producer.Flush.Frequency = 5 * time.Millisecond
			if run.idempotent {
				cfg.Producer.Idempotent = true
				cfg.Net.MaxOpenRequests = 1
			}
			producer, err := sarama.NewAsyncProducer([]string{tb.Addr()}, cfg)
			if err != nil {
				t.Fatalf("NewAsyncProducer: %v", err)
			}
			defer producer.Close()

			go func() {
				for i := range n {
					producer.Input() <- &sarama.ProducerMessage{
						Topic:    topic,
						Key:      sarama.StringEncoder(fmt.Sprintf("key-%d", i%17)),
						Value:    sarama.StringEncoder(fmt.Sprintf("seq-%d", i)),
						Metadata: i,
					}
				}
			}()
			type placed struct {
				partition int32
				offset    int64
			}
			where := map[int]placed{}
			keyPartition := map[string]int32{}
			deadline := time.After(60 * time.Second)
			for len(where) < n {
				select {
				case m := <-producer.Successes():
					where[m.Metadata.(int)] = placed{m.Partition, m.Offset}
					k, _ := m.Key.Encode()
					if p, ok := keyPartition[string(k)]; ok && p != m.Partition {
						t.Errorf("key %s went to partitions %d and %d", k, p, m.Partition)
					}
					keyPartition[string(k)] = m.Partition
				case pe := <-producer.Errors():
					t.Fatalf("async produce of seq-%v: %v", pe.Msg.Metadata, pe.Err)
				case <-deadline:
					t.Fatalf("async produce: %d of %d successes before the deadline", len(where), n)
				}
			}

			counts := map[int32]int{}
			for _, pl := range where {
				counts[pl.partition]++
			}
			if len(counts) != 3 {
				t.Errorf("17 keys landed in %d partitions, want 3: %v", len(counts), counts)
			}
			recs := saramaConsume(t, tb.Addr(), cfg, topic, counts)
			checkOrdering(t, "sarama consumer", recs)
			for _, r := range recs {
				var i int
				fmt.Sscanf(string(r.Value), "seq-%d", &i)
				if pl := where[i]; pl.partition != r.Partition || pl.offset != r.Offset {
					t.Errorf("seq-%d: producer reported %d@%d, consumer found %d@%d", i, pl.partition, pl.offset, r.Partition, r.Offset)
				}
			}
		})
	}
}

// TestSaramaClusterAdminManagesTopics drives ClusterAdmin through a topic's life: CreateTopic with
// configs (and again, expecting TOPIC_ALREADY_EXISTS), ListTopics (partitions, replication,
// non-default configs), DescribeTopics, DescribeConfig, DescribeCluster, CreatePartitions (where
// the protocol level has it), DeleteTopic, and that the topic is gone afterwards.
func TestSaramaClusterAdminManagesTopics(t *testing.T) {
	tb := startBroker(t)
	for _, sv := range saramaVersions {
		t.Run(sv.name, func(t *testing.T) {
			admin, err := sarama.NewClusterAdmin([]string{tb.Addr()}, saramaConfig(sv.version))
			if err != nil {
				t.Fatalf("NewClusterAdmin: %v", err)
			}
			defer admin.Close()
			topic := "sarama-admin-" + sv.name
			retention := "3600000"
			detail := &sarama.TopicDetail{
				NumPartitions:     3,
				ReplicationFactor: int16(tb.brokers),
				ConfigEntries:     map[string]*string{"retention.ms": &retention},
			}
			if err := admin.CreateTopic(topic, detail, false); err != nil {
				t.Fatalf("CreateTopic: %v", err)
			}
			if err := admin.CreateTopic(topic, detail, false); !errors.Is(err, sarama.ErrTopicAlreadyExists) {
				t.Errorf("CreateTopic twice: %v, want %v", err, sarama.ErrTopicAlreadyExists)
			}

			// NB: sarama sends Metadata and DescribeConfigs to any broker. The one that forwarded
			// CreateTopics answered once it applied the topic; the others learn it from the metadata
			// log a moment later, as Kafka's brokers do, so on the cluster the reads are retried.
			tb.eventually(t, func() error {
				topics, err := admin.ListTopics()
				if err != nil {
					return fmt.Errorf("ListTopics: %v", err)
				}
				td, ok := topics[topic]
				if !ok {
					return fmt.Errorf("ListTopics: %s missing from %v", topic, keys(topics))
				}
				if td.NumPartitions != 3 || td.ReplicationFactor != int16(tb.brokers) {
					return fmt.Errorf("ListTopics: %d partitions, replication %d; want 3, %d", td.NumPartitions, td.ReplicationFactor, tb.brokers)
				}
				if v := td.ConfigEntries["retention.ms"]; v == nil || *v != retention {
					return fmt.Errorf("ListTopics: retention.ms %v, want %s (non-default configs: %v)", v, retention, keys(td.ConfigEntries))
				}
				if v, ok := td.ConfigEntries["segment.bytes"]; ok {
					return fmt.Errorf("ListTopics: default segment.bytes=%s reported as non-default", *v)
				}
				return nil
			})

			// NB: sarama sends DescribeConfigs for a topic to a random broker, without retrying
			// UNKNOWN_TOPIC_OR_PARTITION; so, as Kafka's own test utilities wait for a new topic's
			// metadata on every broker, wait until every node has it before describing it.
			if tb.clustered() {
				tb.waitTopicEverywhere(t, topic, 3)
			}

			var metas []*sarama.TopicMetadata
			tb.eventually(t, func() error {
				var err error
				if metas, err = admin.DescribeTopics([]string{topic}); err != nil {
					return fmt.Errorf("DescribeTopics: %v", err)
				}
				if len(metas) != 1 || !errors.Is(metas[0].Err, sarama.ErrNoError) || len(metas[0].Partitions) != 3 {
					return fmt.Errorf("DescribeTopics: %+v", metas)
				}
				return nil
			})
			brokers, controller, err := admin.DescribeCluster()
			if err != nil || len(brokers) != tb.brokers {
				t.Fatalf("DescribeCluster: %v brokers, err %v; want %d", len(brokers), err, tb.brokers)
			}
			var ids []int32
			for _, b := range brokers {
				ids = append(ids, b.ID())
			}
			for _, p := range metas[0].Partitions {
				// Every broker holds a replica (the replication factor is the broker count), all in sync.
				if !slices.Contains(p.Replicas, p.Leader) || len(p.Replicas) != tb.brokers || len(p.Isr) != tb.brokers {
					t.Errorf("DescribeTopics: partition %d leader %d replicas %v isr %v, want all of %v", p.ID, p.Leader, p.Replicas, p.Isr, ids)
				}
			}
			if !slices.Contains(ids, controller) {
				t.Errorf("DescribeCluster: controller %d is none of the brokers %v", controller, ids)
			}

			//lint:ignore SA1019 DescribeConfig is deprecated but is what existing sarama users call.
			entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
			if err != nil {
				t.Fatalf("DescribeConfig: %v", err)
			}
			byName := map[string]sarama.ConfigEntry{}
			for _, e := range entries {
				byName[e.Name] = e
			}
			if e, ok := byName["retention.ms"]; !ok || e.Value != retention || e.Default {
				t.Errorf("DescribeConfig: retention.ms %+v, want %s non-default", e, retention)
			}
			if e, ok := byName["cleanup.policy"]; !ok || e.Value != "delete" || !e.Default {
				t.Errorf("DescribeConfig: cleanup.policy %+v, want default delete", e)
			}
			// DescribeConfigs with names and synonyms (synonyms need DescribeConfigs v1, Kafka 1.1).
			results, err := admin.DescribeConfigs([]*sarama.ConfigResource{{Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"retention.ms"}}},
				sarama.DescribeConfigsOptions{IncludeSynonyms: true})
			if err != nil || len(results) != 1 || !errors.Is(results[0].ErrorCode, sarama.ErrNoError) ||
				len(results[0].Configs) != 1 || results[0].Configs[0].Value != retention {
				t.Errorf("DescribeConfigs(retention.ms): %+v, %v", results, err)
			} else if sv.version.IsAtLeast(sarama.V1_1_0_0) {
				if e := results[0].Configs[0]; e.Source != sarama.SourceTopic || len(e.Synonyms) == 0 || e.Synonyms[0].Source != sarama.SourceTopic {
					t.Errorf("DescribeConfigs(retention.ms) with synonyms: source %v, synonyms %+v; want topic source first", e.Source, e.Synonyms)
				}
			}

			if sv.version.IsAtLeast(sarama.V1_0_0_0) { // CreatePartitions is Kafka 1.0
				if err := admin.CreatePartitions(topic, 5, nil, false); err != nil {
					t.Fatalf("CreatePartitions: %v", err)
				}
				tb.eventually(t, func() error {
					metas, err := admin.DescribeTopics([]string{topic})
					if err != nil || len(metas) != 1 || len(metas[0].Partitions) != 5 {
						return fmt.Errorf("DescribeTopics after CreatePartitions: %+v %v", metas, err)
					}
					return nil
				})
			}

			if err := admin.DeleteTopic(topic); err != nil {
				t.Fatalf("DeleteTopic: %v", err)
			}
			tb.eventually(t, func() error {
				topics, err := admin.ListTopics()
				if err != nil {
					return fmt.Errorf("ListTopics after delete: %v", err)
				}
				if _, ok := topics[topic]; ok {
					return fmt.Errorf("ListTopics after delete still lists %s", topic)
				}
				return nil
			})
			if err := admin.DeleteTopic(topic); !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
				t.Errorf("DeleteTopic twice: %v, want %v", err, sarama.ErrUnknownTopicOrPartition)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
