package log

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// compress encodes records with a Kafka codec; snappy uses the xerial framing of the Java client.
func compress(t testing.TB, codec int, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch codec {
	case 1:
		w := gzip.NewWriter(&buf)
		w.Write(raw)
		w.Close()
	case 2:
		buf.Write(xerialHeader)
		buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		blk := snappy.Encode(nil, raw)
		buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(blk))))
		buf.Write(blk)
	case 3:
		w := lz4.NewWriter(&buf)
		w.Write(raw)
		w.Close()
	case 4:
		e, _ := zstd.NewWriter(nil)
		return e.EncodeAll(raw, nil)
	}
	return buf.Bytes()
}
