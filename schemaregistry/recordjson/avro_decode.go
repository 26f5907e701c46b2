package recordjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/hamba/avro/v2"
)

// avroDecoder writes Avro binary as Avro's JSON encoding (a decimal as a JSON number).
type avroDecoder struct {
	r *avro.Reader
	// budget bounds the array and map elements one record may declare: elements of null or
	// empty records take no bytes, so a corrupt count could otherwise loop for ever.
	budget int
}

func (d *avroDecoder) value(out *bytes.Buffer, s avro.Schema, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: value nests deeper than %d", ErrData, maxDepth)
	}
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	r := d.r
	switch s.Type() {
	case avro.Null:
		out.WriteString("null")
	case avro.Boolean:
		out.WriteString(strconv.FormatBool(r.ReadBool()))
	case avro.Int:
		out.WriteString(strconv.FormatInt(int64(r.ReadInt()), 10))
	case avro.Long:
		out.WriteString(strconv.FormatInt(r.ReadLong(), 10))
	case avro.Float:
		writeFloat(out, float64(r.ReadFloat()), 32)
	case avro.Double:
		writeFloat(out, r.ReadDouble(), 64)
	case avro.String:
		writeString(out, r.ReadString())
	case avro.Bytes:
		writeBytes(out, s, r.ReadBytes())
	case avro.Fixed:
		b := make([]byte, s.(*avro.FixedSchema).Size())
		r.Read(b)
		writeBytes(out, s, b)
	case avro.Enum:
		syms := s.(*avro.EnumSchema).Symbols()
		i := r.ReadInt()
		if r.Error != nil {
			break
		}
		if i < 0 || int(i) >= len(syms) {
			return fmt.Errorf("%w: enum index %d out of range", ErrData, i)
		}
		writeString(out, syms[i])
	case avro.Array, avro.Map:
		return d.block(out, s, depth)
	case avro.Record:
		out.WriteByte('{')
		for i, f := range s.(*avro.RecordSchema).Fields() {
			if i > 0 {
				out.WriteByte(',')
			}
			writeString(out, f.Name())
			out.WriteByte(':')
			if err := d.value(out, f.Type(), depth+1); err != nil {
				return err
			}
		}
		out.WriteByte('}')
	case avro.Union:
		branches := s.(*avro.UnionSchema).Types()
		i := r.ReadLong()
		if r.Error != nil {
			break
		}
		if i < 0 || i >= int64(len(branches)) {
			return fmt.Errorf("%w: union branch %d out of range", ErrData, i)
		}
		b := branches[i]
		if b.Type() == avro.Null {
			out.WriteString("null")
			break
		}
		out.WriteByte('{')
		writeString(out, branchName(b))
		out.WriteByte(':')
		if err := d.value(out, b, depth+1); err != nil {
			return err
		}
		out.WriteByte('}')
	default:
		return fmt.Errorf("%w: Avro type %s is not supported", ErrData, s.Type())
	}
	if r.Error != nil {
		return fmt.Errorf("%w: decoding Avro: %v", ErrData, r.Error)
	}
	return nil
}

// block writes an array or a map: blocks of a count (negative: followed by the block's size)
// until a count of 0.
func (d *avroDecoder) block(out *bytes.Buffer, s avro.Schema, depth int) error {
	isMap := s.Type() == avro.Map
	open, closing := byte('['), byte(']')
	if isMap {
		open, closing = '{', '}'
	}
	out.WriteByte(open)
	first := true
	for {
		n, _ := d.r.ReadBlockHeader()
		if d.r.Error != nil {
			return fmt.Errorf("%w: decoding Avro: %v", ErrData, d.r.Error)
		}
		if n == 0 {
			break
		}
		if n < 0 || n > int64(d.budget) {
			return fmt.Errorf("%w: a block of %d elements is more than the record can hold", ErrData, n)
		}
		d.budget -= int(n)
		for range n {
			if !first {
				out.WriteByte(',')
			}
			first = false
			var err error
			if isMap {
				writeString(out, d.r.ReadString())
				out.WriteByte(':')
				err = d.value(out, s.(*avro.MapSchema).Values(), depth+1)
			} else {
				err = d.value(out, s.(*avro.ArraySchema).Items(), depth+1)
			}
			if err != nil {
				return err
			}
		}
	}
	out.WriteByte(closing)
	return nil
}

// writeFloat writes f as a JSON number, or Avro's "NaN"/"Infinity"/"-Infinity" strings.
func writeFloat(out *bytes.Buffer, f float64, bits int) {
	switch {
	case math.IsNaN(f):
		out.WriteString(`"NaN"`)
	case math.IsInf(f, 1):
		out.WriteString(`"Infinity"`)
	case math.IsInf(f, -1):
		out.WriteString(`"-Infinity"`)
	default:
		out.WriteString(strconv.FormatFloat(f, 'g', -1, bits))
	}
}

func writeString(out *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	out.Write(b)
}

// writeBytes writes bytes as a string of code points 0-255 (Avro's JSON encoding), or a decimal
// as a JSON number.
func writeBytes(out *bytes.Buffer, s avro.Schema, b []byte) {
	if dec := decimalOf(s); dec != nil && len(b) > 0 {
		n := new(big.Int).SetBytes(b)
		if b[0]&0x80 != 0 {
			n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
		}
		r := new(big.Rat).SetFrac(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(dec.Scale())), nil))
		out.WriteString(r.FloatString(dec.Scale()))
		return
	}
	runes := make([]rune, len(b))
	for i, c := range b {
		runes[i] = rune(c)
	}
	writeString(out, string(runes))
}
