package compat_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// kcatGroup runs `kcat -G group topic` (librdkafka's balanced KafkaConsumer: FindCoordinator,
// JoinGroup, SyncGroup, Heartbeat, OffsetFetch, OffsetCommit, LeaveGroup) until it has printed n
// messages (-c), and returns them as "partition offset value" lines. librdkafka stores the offset
// of each message it hands to kcat and commits the stored offsets when kcat closes the consumer;
// auto-commit every 100 ms commits them along the way too.
func kcatGroup(t *testing.T, addr, group, topic string, n int, extra ...string) []string {
	t.Helper()
	args := append([]string{"-b", addr, "-G", group, topic, "-c", fmt.Sprint(n), "-f", `%p %o %s\n`,
		"-X", "auto.offset.reset=earliest",
		"-X", "enable.auto.commit=true", "-X", "auto.commit.interval.ms=100",
		"-X", "session.timeout.ms=10000", "-X", "heartbeat.interval.ms=500",
		"-X", "fetch.wait.max.ms=100",
	}, extra...)
	return lines(kcat(t, "", args...))
}

// TestKcatBalancedConsumerResumesAfterRestart consumes a 3-partition topic with `kcat -G` (range
// and cooperative-sticky assignors, which librdkafka computes itself and sends through SyncGroup),
// stopping after the N records there are; the offsets committed on close must be the partitions'
// ends. Then more records are produced, the group's coordinator restarts (the broker, or on a
// cluster the coordinating node), and `kcat -G` with the same group must read exactly those, none
// of the committed ones.
func TestKcatBalancedConsumerResumesAfterRestart(t *testing.T) {
	requireTool(t, "kcat")
	for _, assignor := range []string{"range", "cooperative-sticky"} {
		t.Run(assignor, func(t *testing.T) {
			tb := startBroker(t)
			const parts, n, more = 3, 60, 24
			// NB: topic distinct per subtest, since on the cluster they all share one.
			group := "kcat-" + assignor
			topic := group + "-in"
			createTopic(t, tb.Addr(), topic, parts, nil)
			produceSeq(t, tb.Addr(), topic, parts, 0, n)
			strategy := []string{"-X", "partition.assignment.strategy=" + assignor}

			check := func(who string, got []string, from, to int) {
				t.Helper()
				if len(got) != to-from {
					t.Fatalf("%s: read %d records, want %d:\n%s", who, len(got), to-from, strings.Join(got, "\n"))
				}
				seen := map[int]bool{}
				for _, l := range got {
					var p int32
					var off int64
					var i int
					if _, err := fmt.Sscanf(l, "%d %d seq-%d", &p, &off, &i); err != nil {
						t.Fatalf("%s: line %q: %v", who, l, err)
					}
					if i < from || i >= to {
						t.Fatalf("%s: read seq-%d at %d@%d, want only seq-%d..seq-%d", who, i, p, off, from, to-1)
					}
					if seen[i] {
						t.Fatalf("%s: seq-%d read twice", who, i)
					}
					seen[i] = true
					if int32(i)%parts != p || int64(i/parts) != off {
						t.Errorf("%s: seq-%d at %d@%d, want %d@%d", who, i, p, off, int32(i)%parts, i/parts)
					}
				}
			}
			checkCommitted := func(who string, want int64) {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				committed, err := adminClient(t, tb.Addr()).FetchOffsets(ctx, group)
				if err != nil {
					t.Fatalf("FetchOffsets %s: %v", group, err)
				}
				for p := int32(0); p < parts; p++ {
					if o, ok := committed.Lookup(topic, p); !ok || o.Err != nil || o.At != want {
						t.Errorf("%s: committed offset of %s[%d]: %+v (found %v), want %d", who, topic, p, o, ok, want)
					}
				}
			}

			check("kcat -G", kcatGroup(t, tb.Addr(), group, topic, n, strategy...), 0, n)
			checkCommitted("after kcat -G", n/parts)

			produceSeq(t, tb.Addr(), topic, parts, n, n+more)
			tb.restartGroupCoordinator(t, group)
			check("kcat -G after restart", kcatGroup(t, tb.Addr(), group, topic, more, strategy...), n, n+more)
			checkCommitted("after the second kcat -G", (n+more)/parts)
		})
	}
}
