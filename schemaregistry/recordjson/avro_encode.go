package recordjson

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"
)

// encodeAvro writes v, a value of Avro's JSON encoding (or, when isDefault, a schema default as
// hamba/avro parsed it), in Avro binary to w. path is the JSON pointer of v for errors.
//
// NB: a union value is {"branch": value} as Avro's JSON encoding has it, but a bare value is
// accepted where only one non-null branch could take it (the common ["null", T]), since that is
// how people type JSON; a default takes the union's first branch, as the specification says.
func encodeAvro(w *avro.Writer, s avro.Schema, v any, path string, isDefault bool, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: %s nests deeper than %d", ErrData, where(path), maxDepth)
	}
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	mismatch := func(want string) error {
		return fmt.Errorf("%w: %s: want %s, got %s", ErrData, where(path), want, describe(v))
	}
	switch s.Type() {
	case avro.Null:
		if v != nil {
			return mismatch("null")
		}
	case avro.Boolean:
		b, ok := v.(bool)
		if !ok {
			return mismatch("a boolean")
		}
		w.WriteBool(b)
	case avro.Int:
		n, ok := toInt(v)
		if !ok || n < math.MinInt32 || n > math.MaxInt32 {
			return mismatch("an int (32-bit integer)")
		}
		w.WriteInt(int32(n))
	case avro.Long:
		n, ok := toInt(v)
		if !ok {
			return mismatch("a long (64-bit integer)")
		}
		w.WriteLong(n)
	case avro.Float:
		f, ok := toFloat(v)
		if !ok {
			return mismatch("a float")
		}
		w.WriteFloat(float32(f))
	case avro.Double:
		f, ok := toFloat(v)
		if !ok {
			return mismatch("a double")
		}
		w.WriteDouble(f)
	case avro.String:
		str, ok := v.(string)
		if !ok {
			return mismatch("a string")
		}
		w.WriteString(str)
	case avro.Bytes:
		b, err := avroBytes(s, v, -1, path)
		if err != nil {
			return err
		}
		w.WriteBytes(b)
	case avro.Fixed:
		fs := s.(*avro.FixedSchema)
		b, err := avroBytes(s, v, fs.Size(), path)
		if err != nil {
			return err
		}
		_, _ = w.Write(b)
	case avro.Enum:
		es := s.(*avro.EnumSchema)
		sym, ok := v.(string)
		i := slices.Index(es.Symbols(), sym)
		if !ok || i < 0 {
			return mismatch(fmt.Sprintf("one of the symbols %v of enum %s", es.Symbols(), es.FullName()))
		}
		w.WriteInt(int32(i))
	case avro.Array:
		items, ok := v.([]any)
		if !ok {
			return mismatch("an array")
		}
		if len(items) > 0 {
			w.WriteBlockHeader(int64(len(items)), 0)
			for i, item := range items {
				if err := encodeAvro(w, s.(*avro.ArraySchema).Items(), item, fmt.Sprintf("%s/%d", path, i), isDefault, depth+1); err != nil {
					return err
				}
			}
		}
		w.WriteLong(0)
	case avro.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return mismatch("an object (Avro map)")
		}
		if len(m) > 0 {
			w.WriteBlockHeader(int64(len(m)), 0)
			for _, k := range sortedKeys(m) {
				w.WriteString(k)
				if err := encodeAvro(w, s.(*avro.MapSchema).Values(), m[k], path+"/"+escapePointer(k), isDefault, depth+1); err != nil {
					return err
				}
			}
		}
		w.WriteLong(0)
	case avro.Record:
		return encodeRecord(w, s.(*avro.RecordSchema), v, path, isDefault, depth)
	case avro.Union:
		return encodeUnion(w, s.(*avro.UnionSchema), v, path, isDefault, depth)
	default:
		return fmt.Errorf("%w: %s: Avro type %s is not supported", ErrData, where(path), s.Type())
	}
	return nil
}

func encodeRecord(w *avro.Writer, rs *avro.RecordSchema, v any, path string, isDefault bool, depth int) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%w: %s: want an object (record %s), got %s", ErrData, where(path), rs.FullName(), describe(v))
	}
	for k := range m {
		if !slices.ContainsFunc(rs.Fields(), func(f *avro.Field) bool { return f.Name() == k }) {
			return fmt.Errorf("%w: %s: record %s has no field %q", ErrData, where(path), rs.FullName(), k)
		}
	}
	for _, f := range rs.Fields() {
		fv, present := m[f.Name()]
		fpath := path + "/" + escapePointer(f.Name())
		if !present {
			if !f.HasDefault() {
				return fmt.Errorf("%w: %s is missing (record %s, and the field has no default)", ErrData, where(fpath), rs.FullName())
			}
			if err := encodeAvro(w, f.Type(), f.Default(), fpath, true, depth+1); err != nil {
				return err
			}
			continue
		}
		if err := encodeAvro(w, f.Type(), fv, fpath, isDefault, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func encodeUnion(w *avro.Writer, us *avro.UnionSchema, v any, path string, isDefault bool, depth int) error {
	branches := us.Types()
	if isDefault {
		w.WriteLong(0)
		return encodeAvro(w, branches[0], v, path, true, depth+1)
	}
	if v == nil {
		for i, b := range branches {
			if b.Type() == avro.Null {
				w.WriteLong(int64(i))
				return nil
			}
		}
		return fmt.Errorf("%w: %s: null is not a branch of the union %s", ErrData, where(path), unionNames(us))
	}
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, bv := range m {
			for i, b := range branches {
				if branchMatches(b, k) {
					w.WriteLong(int64(i))
					return encodeAvro(w, b, bv, path, false, depth+1)
				}
			}
		}
	}
	var nonNull []int
	for i, b := range branches {
		if b.Type() != avro.Null {
			nonNull = append(nonNull, i)
		}
	}
	if len(nonNull) == 1 {
		w.WriteLong(int64(nonNull[0]))
		return encodeAvro(w, branches[nonNull[0]], v, path, false, depth+1)
	}
	if len(nonNull) == 0 {
		return fmt.Errorf("%w: %s: want null (the union %s), got %s", ErrData, where(path), unionNames(us), describe(v))
	}
	return fmt.Errorf(`%w: %s: a value of the union %s must name its branch, as {"%s": value}`, ErrData, where(path), unionNames(us), branchName(branches[nonNull[0]]))
}

// branchName is a union branch's name in Avro's JSON encoding: a named type's full name, else
// the type ("long" for a timestamp-millis long).
func branchName(s avro.Schema) string {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}

// branchMatches reports whether key names branch b: its JSON-encoding name, a named type's short
// name, or hamba/avro's "long.timestamp-millis" form.
func branchMatches(b avro.Schema, key string) bool {
	if ref, ok := b.(*avro.RefSchema); ok {
		b = ref.Schema()
	}
	if key == branchName(b) {
		return true
	}
	if n, ok := b.(avro.NamedSchema); ok {
		return key == n.Name()
	}
	if ls, ok := b.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		return key == string(b.Type())+"."+string(ls.Logical().Type())
	}
	return false
}

func unionNames(us *avro.UnionSchema) string {
	names := make([]string, len(us.Types()))
	for i, b := range us.Types() {
		names[i] = branchName(b)
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// avroBytes returns the bytes of a bytes or fixed value (size -1 for bytes): Avro's JSON
// encoding, a string of code points 0-255, or for a decimal also a JSON number.
func avroBytes(s avro.Schema, v any, size int, path string) ([]byte, error) {
	var b []byte
	if dec := decimalOf(s); dec != nil {
		if n, ok := v.(json.Number); ok {
			unscaled, err := unscaledDecimal(string(n), dec.Scale())
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrData, where(path), err)
			}
			return twosComplement(unscaled, size, path)
		}
	}
	switch x := v.(type) {
	case string:
		b = make([]byte, 0, len(x))
		for _, r := range x {
			if r > 255 {
				return nil, fmt.Errorf("%w: %s: bytes are written as a string of code points 0-255 (Avro's JSON encoding), got %q", ErrData, where(path), r)
			}
			b = append(b, byte(r))
		}
	case []byte:
		b = x
	default:
		return nil, fmt.Errorf("%w: %s: want bytes (a string of code points 0-255), got %s", ErrData, where(path), describe(v))
	}
	if size >= 0 && len(b) != size {
		return nil, fmt.Errorf("%w: %s: fixed needs %d bytes, got %d", ErrData, where(path), size, len(b))
	}
	return b, nil
}

func decimalOf(s avro.Schema) *avro.DecimalLogicalSchema {
	ls, ok := s.(avro.LogicalTypeSchema)
	if !ok || ls.Logical() == nil {
		return nil
	}
	dec, _ := ls.Logical().(*avro.DecimalLogicalSchema)
	return dec
}

// unscaledDecimal returns text × 10^scale, refusing digits the scale cannot hold.
func unscaledDecimal(text string, scale int) (*big.Int, error) {
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return nil, fmt.Errorf("%s is not a decimal number", text)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	if !r.IsInt() {
		return nil, fmt.Errorf("%s has more than %d digits after the point (the decimal's scale)", text, scale)
	}
	return r.Num(), nil
}

// twosComplement is n as big-endian two's complement bytes: minimal for bytes (size -1), else
// sign-extended to size.
func twosComplement(n *big.Int, size int, path string) ([]byte, error) {
	var b []byte
	if n.Sign() >= 0 {
		b = n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
	} else {
		// -n-1 with bits inverted is n in two's complement.
		m := new(big.Int).Neg(n)
		m.Sub(m, big.NewInt(1))
		b = m.Bytes()
		for i := range b {
			b[i] = ^b[i]
		}
		if len(b) == 0 || b[0]&0x80 == 0 {
			b = append([]byte{0xff}, b...)
		}
	}
	if size < 0 {
		return b, nil
	}
	if len(b) > size {
		return nil, fmt.Errorf("%w: %s: decimal needs %d bytes, the fixed holds %d", ErrData, where(path), len(b), size)
	}
	pad := byte(0)
	if b[0]&0x80 != 0 {
		pad = 0xff
	}
	out := make([]byte, size)
	for i := range size - len(b) {
		out[i] = pad
	}
	copy(out[size-len(b):], b)
	return out, nil
}

// toInt converts a JSON number (or a parsed default) to an integer.
func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case float64:
		return int64(x), x == math.Trunc(x) && math.Abs(x) < 1<<63
	}
	return 0, false
}

// toFloat converts a JSON number, a parsed default, or Avro's "NaN"/"Infinity"/"-Infinity".
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case string:
		switch x {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
	}
	return 0, false
}

// describe names a JSON value's kind for an error, with the value when it is short.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case json.Number:
		return "the number " + string(x)
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return fmt.Sprintf("the string %q", x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// pointerEscaper escapes a key for a JSON pointer (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func escapePointer(k string) string {
	if !strings.ContainsAny(k, "~/") {
		return k
	}
	return pointerEscaper.Replace(k)
}
