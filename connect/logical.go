package connect

import (
	"fmt"
	"math/big"
	"strconv"
	"time"
)

// Kafka Connect's logical types: a named schema over a primitive type whose Go value is richer than
// the primitive. Converters carry the primitive (Kafka's "serialized" form); connectors and
// transforms see the Go value:
//
//	Decimal   bytes, parameter scale  *big.Rat   unscaled big-endian two's complement integer
//	Date      int32                   time.Time  days since 1970-01-01 (UTC midnight)
//	Time      int32                   time.Time  milliseconds since midnight, on 1970-01-01 UTC
//	Timestamp int64                   time.Time  milliseconds since the epoch
//
// As in Kafka, a time.Time is reduced to milliseconds; a Date must be a UTC midnight, a Time must
// fall on 1970-01-01 UTC, and a Decimal must be exact at its schema's scale, or the value is
// rejected (ErrDataInvalid) rather than silently rounded.
const (
	DecimalSchemaName   = "org.apache.kafka.connect.data.Decimal"
	DateSchemaName      = "org.apache.kafka.connect.data.Date"
	TimeSchemaName      = "org.apache.kafka.connect.data.Time"
	TimestampSchemaName = "org.apache.kafka.connect.data.Timestamp"

	// DecimalScaleParameter is the Decimal schema parameter holding the scale.
	DecimalScaleParameter = "scale"
)

const millisPerDay = 24 * 60 * 60 * 1000

// DecimalSchema returns a Decimal schema of the given scale, as Kafka's Decimal.schema(scale).
func DecimalSchema(scale int) *Schema {
	return &Schema{Type: TypeBytes, Name: DecimalSchemaName, Version: 1, Parameters: map[string]string{DecimalScaleParameter: strconv.Itoa(scale)}}
}

// DateSchema returns a Date schema, as Kafka's Date.SCHEMA.
func DateSchema() *Schema { return &Schema{Type: TypeInt32, Name: DateSchemaName, Version: 1} }

// TimeSchema returns a Time schema, as Kafka's Time.SCHEMA.
func TimeSchema() *Schema { return &Schema{Type: TypeInt32, Name: TimeSchemaName, Version: 1} }

// TimestampSchema returns a Timestamp schema, as Kafka's Timestamp.SCHEMA.
func TimestampSchema() *Schema {
	return &Schema{Type: TypeInt64, Name: TimestampSchemaName, Version: 1}
}

// IsLogical reports whether s is one of Kafka's logical types (Decimal, Date, Time, Timestamp) over
// the right primitive type.
func (s *Schema) IsLogical() bool {
	if s == nil {
		return false
	}
	switch s.Name {
	case DecimalSchemaName:
		return s.Type == TypeBytes
	case DateSchemaName, TimeSchemaName:
		return s.Type == TypeInt32
	case TimestampSchemaName:
		return s.Type == TypeInt64
	}
	return false
}

// DecimalScale returns a Decimal schema's scale parameter.
func DecimalScale(s *Schema) (int, error) {
	if s == nil {
		return 0, fmt.Errorf("%w: a Decimal needs a schema with a scale", ErrDataInvalid)
	}
	v, ok := s.Parameters[DecimalScaleParameter]
	if !ok {
		return 0, fmt.Errorf("%w: Decimal schema has no %q parameter", ErrDataInvalid, DecimalScaleParameter)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%w: Decimal schema's scale %q is not an integer", ErrDataInvalid, v)
	}
	// NB: decoding works through 10^scale; an absurd scale from a record's schema must not
	// make the worker compute a number with billions of digits.
	if n > MaxDecimalScale || n < -MaxDecimalScale {
		return 0, fmt.Errorf("%w: Decimal schema's scale %d is outside ±%d", ErrDataInvalid, n, MaxDecimalScale)
	}
	return n, nil
}

// MaxDecimalScale bounds a Decimal's scale (PostgreSQL's numeric allows up to 16383 digits
// after the point; Kafka's limit, Java's int, cannot be honoured by exact arithmetic).
const MaxDecimalScale = 16383

// pow10 returns 10^n for n >= 0.
func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// DecimalUnscaled returns the unscaled integer of d at scale (d × 10^scale), or an error if d is not
// exact at that scale (Kafka: "BigDecimal has mismatching scale value for given Decimal schema").
func DecimalUnscaled(d *big.Rat, scale int) (*big.Int, error) {
	r := new(big.Rat).Set(d)
	if scale >= 0 {
		r.Mul(r, new(big.Rat).SetInt(pow10(scale)))
	} else {
		r.Quo(r, new(big.Rat).SetInt(pow10(-scale)))
	}
	if !r.IsInt() {
		return nil, fmt.Errorf("%w: decimal %s is not exact at the schema's scale %d", ErrDataInvalid, d.RatString(), scale)
	}
	return new(big.Int).Set(r.Num()), nil
}

// DecimalFromUnscaled returns unscaled × 10^-scale.
func DecimalFromUnscaled(unscaled *big.Int, scale int) *big.Rat {
	r := new(big.Rat).SetInt(unscaled)
	if scale >= 0 {
		return r.Quo(r, new(big.Rat).SetInt(pow10(scale)))
	}
	return r.Mul(r, new(big.Rat).SetInt(pow10(-scale)))
}

// DecimalString formats d at scale the way Java's BigDecimal.toPlainString does ("1.50" at scale 2).
func DecimalString(d *big.Rat, scale int) (string, error) {
	u, err := DecimalUnscaled(d, scale)
	if err != nil {
		return "", err
	}
	if scale <= 0 {
		return new(big.Int).Mul(u, pow10(-scale)).String(), nil
	}
	neg := u.Sign() < 0
	digits := new(big.Int).Abs(u).String()
	for len(digits) <= scale {
		digits = "0" + digits
	}
	s := digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	if neg {
		s = "-" + s
	}
	return s, nil
}

// twosComplement returns n as Java's BigInteger.toByteArray does: big-endian two's complement in
// the fewest bytes (at least one).
func twosComplement(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n-1 has the same bytes as n with every bit inverted.
	m := new(big.Int).Neg(n)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// fromTwosComplement reads a big-endian two's complement integer.
func fromTwosComplement(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return n
}

// LogicalToPrimitive converts a logical value to its primitive representation (Kafka's
// fromLogical): *big.Rat → []byte, time.Time → int32 days, int32 millis of day or int64 millis.
// Values of other schemas are returned unchanged, and so is a value already in its primitive
// representation (a connector may build records that way, as Debezium's do).
func LogicalToPrimitive(s *Schema, v any) (any, error) {
	if v == nil || !s.IsLogical() {
		return v, nil
	}
	switch x := v.(type) {
	case []byte:
		if s.Name == DecimalSchemaName {
			return x, nil
		}
	case int32:
		if s.Name == DateSchemaName || s.Name == TimeSchemaName {
			return x, nil
		}
	case int64:
		if s.Name == TimestampSchemaName {
			return x, nil
		}
	}
	switch s.Name {
	case DecimalSchemaName:
		d, ok := v.(*big.Rat)
		if !ok || d == nil {
			return nil, fmt.Errorf("%w: Decimal needs a *big.Rat, got %T", ErrDataInvalid, v)
		}
		scale, err := DecimalScale(s)
		if err != nil {
			return nil, err
		}
		u, err := DecimalUnscaled(d, scale)
		if err != nil {
			return nil, err
		}
		return twosComplement(u), nil
	}
	t, ok := v.(time.Time)
	if !ok {
		return nil, fmt.Errorf("%w: %s needs a time.Time, got %T", ErrDataInvalid, s.Name[len("org.apache.kafka.connect.data."):], v)
	}
	ms := t.UnixMilli()
	switch s.Name {
	case DateSchemaName:
		if ms%millisPerDay != 0 {
			return nil, fmt.Errorf("%w: a Date must be a UTC midnight, got %s", ErrDataInvalid, t.UTC().Format(time.RFC3339Nano))
		}
		return int32(ms / millisPerDay), nil
	case TimeSchemaName:
		if ms < 0 || ms >= millisPerDay {
			return nil, fmt.Errorf("%w: a Time must fall on 1970-01-01 UTC, got %s", ErrDataInvalid, t.UTC().Format(time.RFC3339Nano))
		}
		return int32(ms), nil
	}
	return ms, nil
}

// PrimitiveToLogical converts a primitive to the logical value of s (Kafka's toLogical). Values of
// other schemas are returned unchanged.
func PrimitiveToLogical(s *Schema, v any) (any, error) {
	if v == nil || !s.IsLogical() {
		return v, nil
	}
	switch s.Name {
	case DecimalSchemaName:
		b, ok := v.([]byte)
		if !ok {
			return nil, fmt.Errorf("%w: Decimal's representation is bytes, got %T", ErrDataInvalid, v)
		}
		scale, err := DecimalScale(s)
		if err != nil {
			return nil, err
		}
		return DecimalFromUnscaled(fromTwosComplement(b), scale), nil
	case DateSchemaName:
		d, ok := v.(int32)
		if !ok {
			return nil, fmt.Errorf("%w: Date's representation is int32, got %T", ErrDataInvalid, v)
		}
		return time.UnixMilli(int64(d) * millisPerDay).UTC(), nil
	case TimeSchemaName:
		ms, ok := v.(int32)
		if !ok {
			return nil, fmt.Errorf("%w: Time's representation is int32, got %T", ErrDataInvalid, v)
		}
		if ms < 0 || ms >= millisPerDay {
			return nil, fmt.Errorf("%w: Time %d is outside 0..%d milliseconds", ErrDataInvalid, ms, millisPerDay-1)
		}
		return time.UnixMilli(int64(ms)).UTC(), nil
	}
	ms, ok := v.(int64)
	if !ok {
		return nil, fmt.Errorf("%w: Timestamp's representation is int64, got %T", ErrDataInvalid, v)
	}
	return time.UnixMilli(ms).UTC(), nil
}
