package statestore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
)

// Serde turns values of type T into bytes and back. Implementations must be safe for concurrent
// use. Deserialize must not keep a reference to its input: the caller may reuse the slice.
// Errors are returned, never panicked, since the bytes come from disk or from a Kafka topic.
type Serde[T any] interface {
	Serialize(v T) ([]byte, error)
	Deserialize(b []byte) (T, error)
}

// Bytes is the identity serde. Deserialize copies its input.
type Bytes struct{}

// Serialize returns v as is.
func (Bytes) Serialize(v []byte) ([]byte, error) { return v, nil }

// Deserialize returns a copy of b.
func (Bytes) Deserialize(b []byte) ([]byte, error) { return append([]byte(nil), b...), nil }

// String serialises strings as their UTF-8 bytes, like Kafka's StringSerializer.
type String struct{}

// Serialize returns the bytes of v.
func (String) Serialize(v string) ([]byte, error) { return []byte(v), nil }

// Deserialize returns b as a string.
func (String) Deserialize(b []byte) (string, error) { return string(b), nil }

// Int64 serialises an int64 as 8 big-endian bytes, like Kafka's LongSerializer.
//
// NB: the encoding is Kafka's (two's complement), so byte order equals numeric order only for
// non-negative values; Range over negative keys does not follow numeric order.
type Int64 struct{}

// Serialize returns the 8 big-endian bytes of v.
func (Int64) Serialize(v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(v)), nil
}

// Deserialize decodes 8 big-endian bytes.
func (Int64) Deserialize(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("statestore: int64 serde: want 8 bytes, got %d", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// Float64 serialises a float64 as its IEEE 754 bits in 8 big-endian bytes, like Kafka's
// DoubleSerializer.
type Float64 struct{}

// Serialize returns the 8 big-endian bytes of v's IEEE 754 representation.
func (Float64) Serialize(v float64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), math.Float64bits(v)), nil
}

// Deserialize decodes 8 big-endian bytes.
func (Float64) Deserialize(b []byte) (float64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("statestore: float64 serde: want 8 bytes, got %d", len(b))
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

// JSON serialises T with encoding/json.
type JSON[T any] struct{}

// Serialize marshals v to JSON.
func (JSON[T]) Serialize(v T) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("statestore: json serde: %w", err)
	}
	return b, nil
}

// Deserialize unmarshals JSON into a T.
func (JSON[T]) Deserialize(b []byte) (T, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("statestore: json serde: %w", err)
	}
	return v, nil
}
