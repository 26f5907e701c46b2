package server

import (
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// frame encodes req as a request body (header + message), as a client would send it.
func frame(req kmsg.Request, corr int32, clientID string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	b = append(b, clientID...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	return req.AppendTo(b)
}

func allSupported(key, version int16) bool {
	r := kmsg.RequestForKey(key)
	return r != nil && version >= 0 && version <= r.MaxVersion()
}

func seedRequests() []kmsg.Request {
	var out []kmsg.Request
	for _, key := range []int16{0, 1, 2, 3, 18, 19, 20, 21, 22, 23, 32, 33, 37, 44, 60} {
		r := kmsg.RequestForKey(key)
		for _, v := range []int16{0, r.MaxVersion() / 2, r.MaxVersion()} {
			req := kmsg.RequestForKey(key)
			req.SetVersion(v)
			out = append(out, req)
		}
	}
	p := kmsg.NewPtrProduceRequest()
	p.Version = 9
	p.Acks = -1
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "t"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = []byte("not a real batch but bytes")
	pt.Partitions = append(pt.Partitions, pp)
	p.Topics = append(p.Topics, pt)
	out = append(out, p)
	m := kmsg.NewPtrMetadataRequest()
	m.Version = 12
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("orders")
	m.Topics = append(m.Topics, mt)
	out = append(out, m)
	return out
}

// FuzzDecodeRequest feeds arbitrary frame bodies to the request decoder: it must return an error
// or a request, never panic or hang.
func FuzzDecodeRequest(f *testing.F) {
	for i, r := range seedRequests() {
		f.Add(frame(r, int32(i), "seed"))
	}
	f.Add([]byte{})
	f.Add([]byte{0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0x80})
	f.Fuzz(func(t *testing.T, body []byte) {
		h, req, err := DecodeRequest(body, allSupported)
		if err != nil {
			return
		}
		if req.Key() != h.Key || req.GetVersion() != h.Version {
			t.Fatalf("decoded key/version %d/%d, header says %d/%d", req.Key(), req.GetVersion(), h.Key, h.Version)
		}
		// A decoded request must re-encode without panicking.
		_ = req.AppendTo(nil)
	})
}

func TestDecodeRequestRoundTripsEverySeed(t *testing.T) {
	for i, r := range seedRequests() {
		h, req, err := DecodeRequest(frame(r, int32(i), "c"), allSupported)
		if err != nil {
			t.Fatalf("key %d v%d: %v", r.Key(), r.GetVersion(), err)
		}
		if h.CorrelationID != int32(i) || h.ClientID != "c" || req.Key() != r.Key() {
			t.Fatalf("header mismatch: %+v", h)
		}
	}
}

func TestDecodeRequestRejectsBadHeaders(t *testing.T) {
	cases := map[string][]byte{
		"too short":          {0, 1, 0},
		"unknown key":        {0x7f, 0x7f, 0, 0, 0, 0, 0, 1, 0xff, 0xff},
		"client id overrun":  {0, 18, 0, 0, 0, 0, 0, 1, 0x00, 0x40, 'a'},
		"negative client id": {0, 18, 0, 0, 0, 0, 0, 1, 0x80, 0x00},
		"truncated metadata": frame(func() kmsg.Request {
			r := kmsg.NewPtrMetadataRequest()
			r.Version = 12
			r.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("abc")}}
			return r
		}(), 1, "")[:14],
		"unsupported version": {0, 3, 0x7f, 0, 0, 0, 0, 1, 0xff, 0xff},
	}
	for name, body := range cases {
		if _, _, err := DecodeRequest(body, allSupported); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}
