package streams

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestSubscriptionsForLeftUpdatesFollowKafkaInstructions(t *testing.T) {
	p1, p2 := []byte("p1"), []byte("p2")
	for _, tc := range []struct {
		name         string
		oldFK, newFK []byte
		leftJoin     bool
		want         string
	}{
		{"new row, inner", nil, p1, false, "p1:propagate-only"},
		{"new row, left", nil, p1, true, "p1:propagate-null"},
		{"same foreign key, inner", p1, p1, false, "p1:propagate-only"},
		{"same foreign key, left", p1, p1, true, "p1:propagate-null"},
		{"foreign key changed retracts the old result", p1, p2, false, "p1:delete-no-propagate p2:propagate-null"},
		{"row deleted", p1, nil, false, "p1:delete-and-propagate"},
		{"row deleted, left", p1, nil, true, "p1:delete-and-propagate"},
		{"no row before or after", nil, nil, false, ""},
		{"empty foreign key is a key", nil, []byte{}, false, ":propagate-only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, s := range subscriptionsFor(tc.oldFK, tc.newFK, tc.leftJoin) {
				got = append(got, fmt.Sprintf("%s:%s", s.fk, instructionNames[s.instruction]))
			}
			if g := fmt.Sprint(got); g != fmt.Sprint(splitOrNil(tc.want)) {
				t.Fatalf("got %s, want %s", g, tc.want)
			}
		})
	}
}

var instructionNames = map[subscriptionInstruction]string{
	deleteKeyNoPropagate: "delete-no-propagate", deleteKeyAndPropagate: "delete-and-propagate",
	propagateNullIfNoFKValue: "propagate-null", propagateOnlyIfFKValue: "propagate-only",
}

func splitOrNil(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

func TestForeignKeyJoinWireFormatsRoundTrip(t *testing.T) {
	hash := valueHash([]byte("order"))
	for _, h := range [][]byte{hash, nil} {
		instr, gotHash, pk, err := decodeSubscription(encodeSubscription(propagateNullIfNoFKValue, h, []byte("o1")))
		if err != nil || instr != propagateNullIfNoFKValue || !bytes.Equal(gotHash, h) || string(pk) != "o1" {
			t.Fatalf("subscription: %v %x %q %v", instr, gotHash, pk, err)
		}
		for _, right := range [][]byte{[]byte("widget"), {}, nil} {
			gotHash, v, ok, err := decodeResponse(encodeResponse(h, right, right != nil))
			if err != nil || !bytes.Equal(gotHash, h) || ok != (right != nil) || !bytes.Equal(v, right) {
				t.Fatalf("response: %x %q %v %v", gotHash, v, ok, err)
			}
		}
	}
	n, hasNew, o, hasOld, err := decodeChange(encodeChange([]byte("new"), nil))
	if err != nil || !hasNew || hasOld || string(n) != "new" || o != nil {
		t.Fatalf("change: %q %v %q %v %v", n, hasNew, o, hasOld, err)
	}
	for _, bad := range [][]byte{nil, {1}, {0}, {0, 1}, {0, 1, 200}, {0, 1, 5, 'a'}} {
		if _, _, _, err := decodeResponse(bad); err == nil {
			t.Errorf("decodeResponse(%v) accepted", bad)
		}
		if _, _, _, _, err := decodeChange(bad); err == nil {
			t.Errorf("decodeChange(%v) accepted", bad)
		}
	}
	if _, _, _, err := decodeSubscription([]byte{0, 9, 0}); err == nil {
		t.Error("decodeSubscription accepted an unknown instruction")
	}
}

func FuzzDecodeForeignKeyJoinRecords(f *testing.F) {
	f.Add(encodeSubscription(deleteKeyAndPropagate, nil, []byte("pk")))
	f.Add(encodeResponse(valueHash(nil), []byte("v"), true))
	f.Add(encodeChange([]byte("n"), []byte("o")))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Records come from topics: any bytes decode or fail, never panic.
		decodeSubscription(b)
		decodeResponse(b)
		decodeChange(b)
	})
}

func TestTableChangesSendOneRecordWhenTheGroupStays(t *testing.T) {
	same := tableChanges([]byte("eu"), []byte("1"), []byte("eu"), []byte("2"))
	moved := tableChanges([]byte("eu"), []byte("1"), []byte("us"), []byte("2"))
	if len(same) != 1 || string(same[0].Key) != "eu" {
		t.Fatalf("same group: %v", same)
	}
	if len(moved) != 2 || string(moved[0].Key) != "eu" || string(moved[1].Key) != "us" {
		t.Fatalf("moved: subtraction first, then addition; got %v", moved)
	}
	if _, hasNew, old, hasOld, _ := decodeChange(moved[0].Value); hasNew || !hasOld || string(old) != "1" {
		t.Fatalf("moved: first record is not the subtraction of 1")
	}
}
