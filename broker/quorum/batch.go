package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A proposal is one raft entry holding a batch of records, applied atomically (as a KRaft record
// batch is):
//
//	version  uint8 (1)
//	proposer incarnation uint64, sequence uint64 (identify the waiting Propose call)
//	count    uvarint, then count × (uvarint length, bytes)
const batchVersion = 1

type proposalID struct{ incarnation, seq uint64 }

func encodeBatch(id proposalID, records [][]byte) []byte {
	n := 1 + 16 + binary.MaxVarintLen64
	for _, r := range records {
		n += binary.MaxVarintLen64 + len(r)
	}
	b := make([]byte, 0, n)
	b = append(b, batchVersion)
	b = binary.BigEndian.AppendUint64(b, id.incarnation)
	b = binary.BigEndian.AppendUint64(b, id.seq)
	b = binary.AppendUvarint(b, uint64(len(records)))
	for _, r := range records {
		b = binary.AppendUvarint(b, uint64(len(r)))
		b = append(b, r...)
	}
	return b
}

var errBadBatch = errors.New("quorum: undecodable batch in the metadata log")

// decodeBatch returns the records (sub-slices of b) and the proposal's id.
func decodeBatch(b []byte) (proposalID, [][]byte, error) {
	if len(b) < 17 || b[0] != batchVersion {
		return proposalID{}, nil, fmt.Errorf("%w: %d bytes, version %v", errBadBatch, len(b), b[:min(1, len(b))])
	}
	id := proposalID{binary.BigEndian.Uint64(b[1:9]), binary.BigEndian.Uint64(b[9:17])}
	b = b[17:]
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return id, nil, fmt.Errorf("%w: bad record count", errBadBatch)
	}
	b = b[n:]
	records := make([][]byte, 0, count)
	for range count {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return id, nil, fmt.Errorf("%w: record %d overruns the batch", errBadBatch, len(records))
		}
		records = append(records, b[n:n+int(l):n+int(l)])
		b = b[n+int(l):]
	}
	if len(b) != 0 {
		return id, nil, fmt.Errorf("%w: %d trailing bytes", errBadBatch, len(b))
	}
	return id, records, nil
}
