package admin

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

func TestSplitOffsetsKeepsEveryPartitionOnceInOrder(t *testing.T) {
	offsets := kadm.Offsets{}
	for p := range int32(5) {
		offsets.Add(kadm.Offset{Topic: "b", Partition: p, At: int64(p)})
	}
	offsets.Add(kadm.Offset{Topic: "a", Partition: 0, At: 7})
	for _, tc := range []struct {
		size int
		want string
	}{
		{2, "[a/0 b/0] [b/1 b/2] [b/3 b/4]"},
		{4, "[a/0 b/0 b/1 b/2] [b/3 b/4]"},
		{6, "[a/0 b/0 b/1 b/2 b/3 b/4]"},
		{0, "[a/0 b/0 b/1 b/2 b/3 b/4]"},
	} {
		var got string
		for i, b := range SplitOffsets(offsets, tc.size) {
			if i > 0 {
				got += " "
			}
			got += "["
			for j, o := range b.Sorted() {
				if j > 0 {
					got += " "
				}
				got += fmt.Sprintf("%s/%d", o.Topic, o.Partition)
			}
			got += "]"
		}
		if got != tc.want {
			t.Errorf("size %d: batches %s, want %s", tc.size, got, tc.want)
		}
	}
	if got := SplitOffsets(kadm.Offsets{}, 3); got != nil {
		t.Errorf("no offsets: %v batches, want none", got)
	}
}
