package serde

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

func TestHeaderBytesAreConfluents(t *testing.T) {
	for _, c := range []struct {
		id      uint32
		indexes []int
		want    []byte
	}{
		{1, nil, []byte{0, 0, 0, 0, 1, 0}},
		{258, []int{0}, []byte{0, 0, 0, 1, 2, 0}},
		{7, []int{1}, []byte{0, 0, 0, 0, 7, 2, 2}},
		{7, []int{2, 0, 5}, []byte{0, 0, 0, 0, 7, 6, 4, 0, 10}},
	} {
		got := AppendProtobufHeader(nil, c.id, c.indexes)
		if !bytes.Equal(got, c.want) {
			t.Errorf("id %d indexes %v: % x, want % x", c.id, c.indexes, got, c.want)
		}
		// franz-go's sr, a client's own implementation, writes the same bytes.
		var h sr.ConfluentHeader
		theirs, _ := h.AppendEncode(nil, int(c.id), c.indexes)
		if len(c.indexes) > 0 && !bytes.Equal(theirs, got) {
			t.Errorf("id %d indexes %v: ours % x, franz-go's % x", c.id, c.indexes, got, theirs)
		}
	}
	if got := AppendHeader([]byte("k"), 0x01020304); !bytes.Equal(got, []byte{'k', 0, 1, 2, 3, 4}) {
		t.Fatalf("header: % x", got)
	}
}

func TestDecodeRoundTrips(t *testing.T) {
	framed := append(AppendHeader(nil, 42), "avro-bytes"...)
	id, payload, err := Decode(framed)
	if err != nil || id != 42 || string(payload) != "avro-bytes" {
		t.Fatalf("decode: %d %q %v", id, payload, err)
	}
	for _, indexes := range [][]int{{0}, {3}, {1, 2, 3}} {
		framed := append(AppendProtobufHeader(nil, 9, indexes), "pb"...)
		id, got, payload, err := DecodeProtobuf(framed)
		if err != nil || id != 9 || !slices.Equal(got, indexes) || string(payload) != "pb" {
			t.Fatalf("indexes %v: %d %v %q %v", indexes, id, got, payload, err)
		}
	}
}

func TestDecodeRejectsUnframedAndCorruptInput(t *testing.T) {
	for _, b := range [][]byte{nil, {0, 0, 0}, {1, 0, 0, 0, 1}, []byte("plain json")} {
		if _, _, err := Decode(b); !errors.Is(err, ErrNotFramed) {
			t.Errorf("% x: %v", b, err)
		}
	}
	for _, b := range [][]byte{{0, 0, 0, 0, 1}, {0, 0, 0, 0, 1, 1}, {0, 0, 0, 0, 1, 0xfe, 0x7f}, {0, 0, 0, 0, 1, 4, 2}} {
		if _, _, _, err := DecodeProtobuf(b); !errors.Is(err, ErrBadIndexes) {
			t.Errorf("% x: %v", b, err)
		}
	}
}

func FuzzDecodeProtobuf(f *testing.F) {
	f.Add(AppendProtobufHeader(nil, 1, []int{1, 2}))
	f.Add([]byte{0, 0, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, indexes, payload, err := DecodeProtobuf(b)
		if err != nil {
			return
		}
		again := append(AppendProtobufHeader(nil, id, indexes), payload...)
		id2, indexes2, payload2, err := DecodeProtobuf(again)
		if err != nil || id2 != id || !slices.Equal(indexes, indexes2) || !bytes.Equal(payload, payload2) {
			t.Fatalf("re-encoding % x does not round-trip: % x", b, again)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	framed := append(AppendHeader(nil, 42), make([]byte, 100)...)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(framed); err != nil {
			b.Fatal(err)
		}
	}
}
