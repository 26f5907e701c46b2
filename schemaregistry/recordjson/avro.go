package recordjson

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/hamba/avro/v2"
)

// avroConfig bounds what one decoded value may make the reader allocate (a corrupt length
// prefix must not allocate gigabytes).
var avroConfig = avro.Config{MaxByteSliceSize: 16 << 20, MaxSliceAllocSize: 1 << 20}.Freeze()

// maxDepth bounds nesting (recursive records, arrays of arrays) while transcoding.
const maxDepth = 256

type avroCodec struct {
	schema avro.Schema
}

func (a *avroCodec) encode(dst []byte, id int, text []byte) ([]byte, error) {
	v, err := parseJSON(text)
	if err != nil {
		return nil, err
	}
	w := avro.NewWriter(nil, 512, avro.WithWriterConfig(avroConfig))
	if err := encodeAvro(w, a.schema, v, "", false, 0); err != nil {
		return nil, err
	}
	dst = serde.AppendHeader(dst, uint32(id))
	return append(dst, w.Buffer()...), nil
}

func (a *avroCodec) decode(framed []byte) ([]byte, error) {
	payload := framed[serde.HeaderSize:]
	r := avro.NewReader(nil, 0, avro.WithReaderConfig(avroConfig)).Reset(payload)
	d := avroDecoder{r: r, budget: len(payload) + 1<<16}
	var out bytes.Buffer
	if err := d.value(&out, a.schema, 0); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, fmt.Errorf("%w: decoding Avro: %v", ErrData, r.Error)
	}
	return out.Bytes(), nil
}

// parseJSON reads one JSON value, numbers kept as json.Number so longs keep every digit.
func parseJSON(text []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrData, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON value", ErrData)
	}
	return v, nil
}

// where names a place in a value for an error: the JSON pointer of a field, or "the value".
func where(path string) string {
	if path == "" {
		return "the value"
	}
	return "field " + path
}
