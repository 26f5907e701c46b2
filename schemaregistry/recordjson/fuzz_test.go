package recordjson

import (
	"bytes"
	"testing"

	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/hamba/avro/v2"
)

const fuzzSchema = `{"type":"record","name":"R","fields":[
	{"name":"a","type":["null","long","string"]},
	{"name":"b","type":{"type":"array","items":{"type":"map","values":"double"}}},
	{"name":"c","type":{"type":"enum","name":"E","symbols":["X","Y"]}},
	{"name":"d","type":{"type":"fixed","name":"F","size":2,"logicalType":"decimal","precision":4,"scale":1}},
	{"name":"e","type":["null","R"],"default":null},
	{"name":"f","type":"bytes"},{"name":"g","type":"float"},{"name":"h","type":"boolean"}]}`

// FuzzAvroDecode: any bytes either fail to decode or decode to JSON that encodes back to a record,
// and from there decoding and encoding reach a fixed point (the first pass may replace invalid
// UTF-8 in a string with U+FFFD); nothing panics or runs away on a corrupt count or length.
func FuzzAvroDecode(f *testing.F) {
	c := &avroCodec{schema: avro.MustParse(fuzzSchema)}
	seed, err := c.encode(nil, 1, []byte(`{"a":{"long":5},"b":[{"k":1.5}],"c":"Y","d":-1.5,"e":{"R":{"a":null,"b":[],"c":"X","d":"\u0000\u0001","f":"","g":1,"h":true}},"f":"\u00ff","g":"NaN","h":false}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{0, 0, 0, 0, 1, 2, 0x80, 0x80, 0x80, 0x80, 0x10})
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0xfe, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < serde.HeaderSize {
			return
		}
		text, err := c.decode(b)
		if err != nil {
			return
		}
		again, err := c.encode(nil, 1, text)
		if err != nil {
			t.Fatalf("decoded %s does not encode: %v", text, err)
		}
		text2, err := c.decode(again)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", text, err)
		}
		again2, err := c.encode(nil, 1, text2)
		if err != nil {
			t.Fatalf("decoded %s does not encode: %v", text2, err)
		}
		if text3, err := c.decode(again2); err != nil || !bytes.Equal(text2, text3) {
			t.Fatalf("round trip: %s → %s (%v)", text2, text3, err)
		}
	})
}
