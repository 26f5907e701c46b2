package main

import (
	"testing"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

// Deleting a topic deletes its committed offsets in every group, as Kafka does, so a topic
// re-created under the same name shows no stale offsets, also after a restart.
func TestDeletingATopicDeletesItsCommittedOffsetsInEveryGroup(t *testing.T) {
	tb := testbroker.Start(t)
	bs := tb.Addr()
	mustGregor(t, "", "topics", "create", "--topic", "t", "--partitions", "1", "-b", bs)
	mustGregor(t, "", "topics", "create", "--topic", "kept", "--partitions", "1", "-b", bs)
	mustGregor(t, "a\nb\n", "produce", "--topic", "t", "-b", bs)
	mustGregor(t, "c\n", "produce", "--topic", "kept", "-b", bs)
	for _, g := range []string{"g1", "g2"} {
		mustGregor(t, "", "consume", "--topic", "t", "--group", g, "--from-beginning", "--max-messages", "2", "-b", bs)
	}
	mustGregor(t, "", "consume", "--topic", "kept", "--group", "g1", "--from-beginning", "--max-messages", "1", "-b", bs)

	mustGregor(t, "", "topics", "delete", "--topic", "t", "-b", bs)
	mustGregor(t, "", "topics", "create", "--topic", "t", "--partitions", "1", "-b", bs)
	check := func(when string) {
		t.Helper()
		want := map[string]string{
			"g1": "GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID\n" +
				"g1    kept  0         1              1              0   -           -    -\n",
			"g2": "",
		}
		for g, w := range want {
			// g1 keeps its offsets of the other topic; g2 had offsets only on the deleted one.
			if got := mustGregor(t, "", "groups", "describe", "--group", g, "-b", bs).stdout; got != w {
				t.Errorf("%s: groups describe --group %s printed\n%s\nwant\n%s", when, g, got, w)
			}
		}
	}
	check("after delete and re-create")
	tb.Restart()
	check("after a restart")
}
