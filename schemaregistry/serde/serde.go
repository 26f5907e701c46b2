// Package serde reads and writes the Confluent wire format that every registry-aware serializer
// puts in front of a Kafka record's key or value: a magic byte 0, the schema id as a big-endian
// 4-byte integer, then — for Protobuf only — the message indexes locating the record's message
// type in its .proto file, then the encoded data. It has that one job; encoding the data itself
// belongs to the Avro, JSON or Protobuf codec.
package serde

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MagicByte is the first byte of every framed record.
const MagicByte = 0

// HeaderSize is the size of the magic byte and schema id.
const HeaderSize = 5

// maxIndexes bounds the message indexes a decoder accepts (message nesting depth), so a corrupt
// count cannot allocate without limit.
const maxIndexes = 128

// Errors the decoders return.
var (
	ErrNotFramed  = errors.New("serde: not in the Confluent wire format (no magic byte 0 and 4-byte schema id)")
	ErrBadIndexes = errors.New("serde: malformed Protobuf message indexes")
)

// AppendHeader appends the magic byte and schema id to dst.
func AppendHeader(dst []byte, id uint32) []byte {
	dst = append(dst, MagicByte)
	return binary.BigEndian.AppendUint32(dst, id)
}

// AppendProtobufHeader appends the header and the message indexes (zig-zag varints: the count,
// then each index). The first message of the file, [0], is written as the single byte 0, as
// Confluent's serializers do.
func AppendProtobufHeader(dst []byte, id uint32, indexes []int) []byte {
	dst = AppendHeader(dst, id)
	if len(indexes) == 0 || (len(indexes) == 1 && indexes[0] == 0) {
		return append(dst, 0)
	}
	dst = binary.AppendVarint(dst, int64(len(indexes)))
	for _, i := range indexes {
		dst = binary.AppendVarint(dst, int64(i))
	}
	return dst
}

// Decode splits a framed record into its schema id and payload. payload aliases b.
func Decode(b []byte) (id uint32, payload []byte, err error) {
	if len(b) < HeaderSize || b[0] != MagicByte {
		return 0, nil, ErrNotFramed
	}
	return binary.BigEndian.Uint32(b[1:HeaderSize]), b[HeaderSize:], nil
}

// DecodeProtobuf splits a framed Protobuf record into its schema id, message indexes and payload.
// payload aliases b.
func DecodeProtobuf(b []byte) (id uint32, indexes []int, payload []byte, err error) {
	id, rest, err := Decode(b)
	if err != nil {
		return 0, nil, nil, err
	}
	count, n := binary.Varint(rest)
	if n <= 0 || count < 0 || count > maxIndexes {
		return 0, nil, nil, fmt.Errorf("%w: count", ErrBadIndexes)
	}
	rest = rest[n:]
	if count == 0 {
		return id, []int{0}, rest, nil
	}
	indexes = make([]int, count)
	for i := range indexes {
		v, n := binary.Varint(rest)
		if n <= 0 || v < 0 || v > 1<<31-1 {
			return 0, nil, nil, fmt.Errorf("%w: index %d", ErrBadIndexes, i)
		}
		indexes[i] = int(v)
		rest = rest[n:]
	}
	return id, indexes, rest, nil
}
