package streams

import (
	"bytes"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/statestore"
)

// FuzzWindowedDecoders feeds arbitrary bytes, as a topic or a corrupt store could, to the
// windowed key serdes and the join value lists: errors, never panics, and what decodes
// re-encodes to the same bytes.
func FuzzWindowedDecoders(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("key\x00\x00\x00\x00\x00\x00\xea\x60"))
	f.Add([]byte("u\x00\x00\x00\x00\x00\x00\x23\x28\x00\x00\x00\x00\x00\x00\x03\xe8"))
	f.Add(appendJoinValue(appendJoinValue(nil, []byte("a")), []byte("bc")))
	tw := TimeWindowedSerde[[]byte]{Key: statestore.Bytes{}, WindowSize: time.Minute}
	sw := SessionWindowedSerde[[]byte]{Key: statestore.Bytes{}}
	f.Fuzz(func(t *testing.T, b []byte) {
		if w, err := tw.Deserialize(b); err == nil {
			if e, _ := tw.Serialize(w); !bytes.Equal(e, b) {
				t.Fatalf("time-windowed %x → %v → %x", b, w, e)
			}
		}
		if w, err := sw.Deserialize(b); err == nil {
			if e, _ := sw.Serialize(w); !bytes.Equal(e, b) {
				t.Fatalf("session-windowed %x → %v → %x", b, w, e)
			}
		}
		// NB: binary.Uvarint accepts non-minimal lengths (0x80 0x00 is 0), so the values, not
		// the bytes, must survive a round trip.
		var list []byte
		var values [][]byte
		if err := eachJoinValue(b, func(v []byte) error {
			values = append(values, v)
			list = appendJoinValue(list, v)
			return nil
		}); err == nil {
			i := 0
			err := eachJoinValue(list, func(v []byte) error {
				if !bytes.Equal(v, values[i]) {
					t.Fatalf("join values %x: value %d = %x, re-encoded %x", b, i, values[i], v)
				}
				i++
				return nil
			})
			if err != nil || i != len(values) {
				t.Fatalf("join values %x re-encoded as %x: %d values, %v", b, list, i, err)
			}
		}
	})
}
