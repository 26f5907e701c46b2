package statestore

import (
	"bytes"

	"github.com/syndtr/goleveldb/leveldb"
	"testing"
)

// FuzzDecoders feeds arbitrary bytes, as a changelog or a corrupt disk could, to every decoder:
// they return errors, never panic, and what decodes re-encodes to the same bytes.
func FuzzDecoders(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 1, 2})
	f.Add([]byte(`{"a":1}`))
	f.Add([]byte("key\x00\x00\x00\x00\x00\x00\x03\xe8"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := (Int64{}).Deserialize(b); err == nil {
			if e, _ := (Int64{}).Serialize(v); !bytes.Equal(e, b) {
				t.Fatalf("Int64 %x → %d → %x", b, v, e)
			}
		}
		if v, err := (Float64{}).Deserialize(b); err == nil {
			if e, _ := (Float64{}).Serialize(v); !bytes.Equal(e, b) {
				t.Fatalf("Float64 %x → %v → %x", b, v, e)
			}
		}
		_, _ = JSON[map[string]any]{}.Deserialize(b)
		if k, start, err := SplitWindowKey(b); err == nil {
			if e := WindowKey(k, start); !bytes.Equal(e, b) {
				t.Fatalf("window key %x → %x@%d → %x", b, k, start, e)
			}
		}
		var batch leveldb.Batch
		indexWindow(&batch, b, len(b)%2 == 0)
	})
}
