package compat_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaBalancers are the client-side assignors the group tests run with. The broker only picks
// the protocol every member supports and forwards the leader's assignment; the assignment itself
// (and, for sticky, the user data carried in the member metadata) is the client's business.
var saramaBalancers = []struct {
	name     string
	strategy func() sarama.BalanceStrategy
}{
	{"range", sarama.NewBalanceStrategyRange},
	{"sticky", sarama.NewBalanceStrategySticky},
}

// saramaGroupConfig is saramaConfig for a ConsumerGroup: start at the oldest offset when the group
// has none committed, short session and heartbeat so rebalances are quick, and the given assignor.
func saramaGroupConfig(v sarama.KafkaVersion, strategy sarama.BalanceStrategy, autoCommit bool) *sarama.Config {
	cfg := saramaConfig(v)
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = autoCommit
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{strategy}
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 10 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	return cfg
}

// groupMessage is one message as a group member saw it.
type groupMessage struct {
	member     string
	generation int32
	partition  int32
	offset     int64
	value      string
}

// groupClaims is what a member was given in one generation (session.Claims at Setup).
type groupClaims struct {
	member     string
	generation int32
	partitions []int32
}

// saramaGroupHandler marks every message it is given and reports messages and claims on channels.
// With commit set (configs where auto-commit is off) it commits synchronously with session.Commit
// when it reaches the claim's high watermark and at Cleanup. NB: not after every message: with one
// broker, sarama's fetches and its coordinator requests share one connection, answered in order,
// so each commit waits behind the pending fetch (up to MaxWaitTime) — as it would against Kafka.
type saramaGroupHandler struct {
	name     string
	topic    string
	commit   bool
	messages chan<- groupMessage
	claims   chan<- groupClaims
}

func (h *saramaGroupHandler) Setup(s sarama.ConsumerGroupSession) error {
	parts := slices.Clone(s.Claims()[h.topic])
	slices.Sort(parts)
	select {
	case h.claims <- groupClaims{member: h.name, generation: s.GenerationID(), partitions: parts}:
	case <-s.Context().Done():
	}
	return nil
}

func (h *saramaGroupHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	if h.commit {
		s.Commit()
	}
	return nil
}

func (h *saramaGroupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			s.MarkMessage(m, "")
			if h.commit && m.Offset+1 >= c.HighWaterMarkOffset() {
				s.Commit()
			}
			select {
			case h.messages <- groupMessage{h.name, s.GenerationID(), m.Partition, m.Offset, string(m.Value)}:
			case <-s.Context().Done():
				return nil
			}
		case <-s.Context().Done():
			return nil
		}
	}
}

// saramaMember is a running sarama ConsumerGroup member: Consume in a loop (it returns at every
// rebalance) until stop.
type saramaMember struct {
	group  sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
	errs   chan<- error
}

// Errors from Consume and from the group's Errors channel go to errs (dropped when it is full).
func startSaramaMember(t *testing.T, addr, groupID string, cfg *sarama.Config, h *saramaGroupHandler, errs chan error) *saramaMember {
	t.Helper()
	g, err := sarama.NewConsumerGroup([]string{addr}, groupID, cfg)
	if err != nil {
		t.Fatalf("NewConsumerGroup %s: %v", h.name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &saramaMember{group: g, cancel: cancel, done: make(chan struct{}), errs: errs}
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{h.topic}, h); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
				select {
				case m.errs <- fmt.Errorf("%s: Consume: %w", h.name, err):
				default:
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	go func() {
		for err := range g.Errors() {
			select {
			case m.errs <- fmt.Errorf("%s: %w", h.name, err):
			default:
			}
		}
	}()
	t.Cleanup(m.stop)
	return m
}

// stop ends Consume and closes the group, which leaves it (LeaveGroup) and, with auto-commit on,
// commits what was marked. Idempotent.
func (m *saramaMember) stop() {
	m.cancel()
	<-m.done
	m.group.Close()
}

// produceSeq produces values seq-from .. seq-(to-1) round-robin over the partitions, with sarama.
func produceSeq(t *testing.T, addr, topic string, partitions int32, from, to int) {
	t.Helper()
	cfg := saramaConfig(sarama.V3_6_0_0)
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("NewSyncProducer: %v", err)
	}
	defer p.Close()
	var msgs []*sarama.ProducerMessage
	for i := from; i < to; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: int32(i) % partitions, Value: sarama.StringEncoder(fmt.Sprintf("seq-%d", i))})
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatalf("SendMessages: %v", err)
	}
}

// collectSeq reads messages until each of seq-from .. seq-(to-1) has been seen, failing on a value
// outside that range (a record read again after it was committed), on a duplicate, on a member
// error, or at the deadline. It then waits settle for stray messages.
func collectSeq(t *testing.T, who string, msgs <-chan groupMessage, errs <-chan error, from, to int, settle time.Duration) []groupMessage {
	t.Helper()
	seen := map[int]groupMessage{}
	var out []groupMessage
	deadline := time.After(30 * time.Second)
	check := func(m groupMessage) {
		var n int
		if _, err := fmt.Sscanf(m.value, "seq-%d", &n); err != nil {
			t.Fatalf("%s: value %q at %d@%d", who, m.value, m.partition, m.offset)
		}
		if n < from || n >= to {
			t.Fatalf("%s: read seq-%d (partition %d offset %d), want only seq-%d..seq-%d: a committed record was read again", who, n, m.partition, m.offset, from, to-1)
		}
		if prev, ok := seen[n]; ok {
			t.Fatalf("%s: seq-%d read twice (%d@%d by %s gen %d, then %d@%d by %s gen %d)", who, n,
				prev.partition, prev.offset, prev.member, prev.generation, m.partition, m.offset, m.member, m.generation)
		}
		seen[n] = m
		out = append(out, m)
	}
	for len(seen) < to-from {
		select {
		case m := <-msgs:
			check(m)
		case err := <-errs:
			t.Fatalf("%s: %v", who, err)
		case <-deadline:
			t.Fatalf("%s: read %d of %d records before the deadline", who, len(seen), to-from)
		}
	}
	for end := time.After(settle); ; {
		select {
		case m := <-msgs:
			check(m)
		case <-end:
			return out
		}
	}
}

// TestSaramaConsumerGroupResumesAfterRestart consumes a 3-partition topic with a sarama
// ConsumerGroup (range and sticky assignors; current and Kafka 0.11 protocol levels, so JoinGroup,
// SyncGroup, Heartbeat, OffsetCommit and OffsetFetch run at old and new versions), marks every
// message and commits (auto-commit for range, session.Commit for sticky), and closes. The committed
// offsets must be the partitions' ends. After a restart of the group's coordinator, which reloads
// the group's offsets from __consumer_offsets (on a cluster: another node takes over from its
// replica), a new ConsumerGroup with the same id reads exactly the records produced after the
// restart.
func TestSaramaConsumerGroupResumesAfterRestart(t *testing.T) {
	for _, bal := range saramaBalancers {
		for _, sv := range saramaVersions {
			t.Run(bal.name+"/"+sv.name, func(t *testing.T) {
				tb := startBroker(t)
				const parts, n, more = 3, 90, 30
				// NB: topic and group distinct per subtest, since on the cluster they all share one.
				group := "sarama-" + bal.name + "-" + sv.name
				topic := group + "-in"
				manual := bal.name == "sticky"
				createTopic(t, tb.Addr(), topic, parts, nil)
				produceSeq(t, tb.Addr(), topic, parts, 0, n)

				msgs, claims, errs := make(chan groupMessage, 256), make(chan groupClaims, 16), make(chan error, 16)
				h := &saramaGroupHandler{name: "first", topic: topic, commit: manual, messages: msgs, claims: claims}
				m := startSaramaMember(t, tb.Addr(), group, saramaGroupConfig(sv.version, bal.strategy(), !manual), h, errs)
				got := collectSeq(t, "first consumer", msgs, errs, 0, n, 200*time.Millisecond)
				if c := <-claims; !slices.Equal(c.partitions, []int32{0, 1, 2}) {
					t.Errorf("sole member claimed %v in generation %d, want [0 1 2]", c.partitions, c.generation)
				}
				next := map[int32]int64{}
				for _, g := range got {
					if g.offset != next[g.partition] {
						t.Errorf("partition %d: offset %d read after %d", g.partition, g.offset, next[g.partition]-1)
					}
					next[g.partition] = g.offset + 1
				}
				m.stop()

				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				committed, err := adminClient(t, tb.Addr()).FetchOffsets(ctx, group)
				if err != nil {
					t.Fatalf("FetchOffsets %s: %v", group, err)
				}
				for p := int32(0); p < parts; p++ {
					o, ok := committed.Lookup(topic, p)
					if !ok || o.Err != nil || o.At != n/parts {
						t.Errorf("committed offset of %s[%d] after close: %+v (found %v), want %d", topic, p, o, ok, n/parts)
					}
				}

				tb.restartGroupCoordinator(t, group)
				produceSeq(t, tb.Addr(), topic, parts, n, n+more)
				// Fresh channels: nothing the first member sent can be mistaken for a re-read.
				msgs2, errs2 := make(chan groupMessage, 256), make(chan error, 16)
				h2 := &saramaGroupHandler{name: "second", topic: topic, commit: manual, messages: msgs2, claims: make(chan groupClaims, 16)}
				startSaramaMember(t, tb.Addr(), group, saramaGroupConfig(sv.version, bal.strategy(), !manual), h2, errs2)
				got = collectSeq(t, "consumer after restart", msgs2, errs2, n, n+more, 500*time.Millisecond)
				for _, g := range got {
					if g.offset < n/parts {
						t.Errorf("after restart: read %d@%d, below the committed %d", g.partition, g.offset, n/parts)
					}
				}
			})
		}
	}
}

// TestSaramaConsumerGroupSharesPartitions runs two sarama ConsumerGroup members of one group on a
// 3-partition topic (range and sticky). In every generation no partition may be claimed by both;
// once both hold claims in the same generation, together they must cover every partition, and the
// records produced then must each be read exactly once, by the member that owns the partition.
func TestSaramaConsumerGroupSharesPartitions(t *testing.T) {
	for _, bal := range saramaBalancers {
		t.Run(bal.name, func(t *testing.T) {
			tb := startBroker(t)
			const parts, n = 3, 60
			group := "sarama-shared-" + bal.name
			topic := group + "-in"
			createTopic(t, tb.Addr(), topic, parts, nil)

			msgs, claims := make(chan groupMessage, 256), make(chan groupClaims, 64)
			errs := make(chan error, 32)
			var members []*saramaMember
			for _, name := range []string{"a", "b"} {
				h := &saramaGroupHandler{name: name, topic: topic, messages: msgs, claims: claims}
				members = append(members, startSaramaMember(t, tb.Addr(), group, saramaGroupConfig(sarama.V3_6_0_0, bal.strategy(), true), h, errs))
			}

			// generation -> member -> partitions
			gens := map[int32]map[string][]int32{}
			var stable int32 = -1
			deadline := time.After(30 * time.Second)
			for stable < 0 {
				select {
				case c := <-claims:
					if gens[c.generation] == nil {
						gens[c.generation] = map[string][]int32{}
					}
					gens[c.generation][c.member] = c.partitions
					owner := map[int32]string{}
					for member, ps := range gens[c.generation] {
						for _, p := range ps {
							if o, ok := owner[p]; ok {
								t.Fatalf("generation %d: partition %d claimed by both %s and %s: %v", c.generation, p, o, member, gens[c.generation])
							}
							owner[p] = member
						}
					}
					if len(gens[c.generation]) == 2 {
						if len(owner) != parts {
							t.Fatalf("generation %d: two members claim %v, want all %d partitions covered", c.generation, gens[c.generation], parts)
						}
						for member, ps := range gens[c.generation] {
							if len(ps) == 0 {
								t.Fatalf("generation %d: member %s has no partition of %d: %v", c.generation, member, parts, gens[c.generation])
							}
						}
						stable = c.generation
					}
				case err := <-errs:
					t.Fatalf("%v", err)
				case <-deadline:
					t.Fatalf("no generation with both members within the deadline; claims so far %v", gens)
				}
			}

			produceSeq(t, tb.Addr(), topic, parts, 0, n)
			got := collectSeq(t, "two members", msgs, errs, 0, n, 500*time.Millisecond)
			byMember := map[string]int{}
			for _, g := range got {
				if g.generation != stable {
					t.Errorf("seq %s read in generation %d, want %d (an unexpected rebalance)", g.value, g.generation, stable)
					continue
				}
				if !slices.Contains(gens[stable][g.member], g.partition) {
					t.Errorf("%s read partition %d, which it does not own in generation %d: %v", g.member, g.partition, stable, gens[stable])
				}
				byMember[g.member]++
			}
			if len(byMember) != 2 {
				t.Errorf("records read per member: %v, want both members reading", byMember)
			}
			// Claims reported after the stable generation (none expected) must not overlap either.
			select {
			case c := <-claims:
				t.Errorf("unexpected rebalance: %s claimed %v in generation %d", c.member, c.partitions, c.generation)
			default:
			}
			for _, m := range members {
				m.stop()
			}
		})
	}
}
