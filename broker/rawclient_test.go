package broker_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn speaks the Kafka protocol with pinned versions, for tests that must control exactly
// what goes on the wire.
type rawConn struct {
	t    testing.TB
	c    net.Conn
	r    *bufio.Reader
	corr int32
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

func encodeFrame(req kmsg.Request, corr int32) []byte {
	b := []byte{0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "test"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// send writes a request without waiting for the answer.
func (rc *rawConn) send(req kmsg.Request) int32 {
	rc.corr++
	rc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := rc.c.Write(encodeFrame(req, rc.corr)); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
	return rc.corr
}

// recv reads one response frame for req (decoded at req's version).
func (rc *rawConn) recv(req kmsg.Request, corr int32) (kmsg.Response, error) {
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var sz [4]byte
	if _, err := io.ReadFull(rc.r, sz[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(sz[:]))
	if _, err := io.ReadFull(rc.r, body); err != nil {
		return nil, err
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		return nil, fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != 18 {
		if len(body) == 0 || body[0] != 0 {
			return nil, fmt.Errorf("expected empty response header tags")
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode response key %d v%d: %w", req.Key(), req.GetVersion(), err)
	}
	return resp, nil
}

func (rc *rawConn) do(req kmsg.Request) kmsg.Response {
	rc.t.Helper()
	resp, err := rc.recv(req, rc.send(req))
	if err != nil {
		rc.t.Fatalf("key %d v%d: %v", req.Key(), req.GetVersion(), err)
	}
	return resp
}

// recordBatch builds a v2 record batch with valid CRC.
func recordBatch(pid int64, epoch int16, seq int32, ts int64, recs ...kmsg.Record) []byte {
	records := encodeRecords(recs...)
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       ts,
		MaxTimestamp:         ts,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        seq,
		NumRecords:           int32(len(recs)),
		Records:              records,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	crc := crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(raw[17:], crc)
	return raw
}

func record(key, value string) kmsg.Record {
	r := kmsg.NewRecord()
	if key != "" {
		r.Key = []byte(key)
	}
	r.Value = []byte(value)
	return r
}

func recordBatchCRC(raw []byte) uint32 {
	return crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))
}
