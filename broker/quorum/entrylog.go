package quorum

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	pb "go.etcd.io/raft/v3/raftpb"
)

// The entry log is a sequence of segment files `<20-digit sequence>.log`, each a run of frames:
//
//	length  uint32  (of payload)
//	crc     uint32  (CRC-32C of payload)
//	payload: index uint64, term uint64, type uint8, data
//
// It is append-only: when raft replaces an uncommitted suffix, the new entries are appended after the
// old ones and win on replay (an entry at index i drops every entry at i or above read before it), so
// no file is ever rewritten in the middle. A torn tail (a frame cut short or failing its CRC in the
// last segment) is truncated at start.
//
// NB: segments are named by a sequence number, not by their first index as Kafka's are: with
// override-on-replay a later segment can start at a lower index than an earlier one, and file-name
// order must be write order.

const (
	frameHeaderBytes  = 8
	entryHeaderBytes  = 17
	segmentSuffix     = ".log"
	maxEntryDataBytes = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorruptSegment reports a bad frame that is not at the log's tail: not a torn write but lost data.
var errCorruptSegment = errors.New("quorum: corrupt metadata log segment")

type segment struct {
	seq      uint64
	name     string
	maxIndex uint64 // the highest index written in it (0 if empty)
}

// entryLog is owned by the node's Ready loop; it is not safe for concurrent use.
type entryLog struct {
	fs           FS
	dir          string
	segmentBytes int64
	segments     []segment // sorted by seq; the last one is active
	active       File
	activeSize   int64
	buf          []byte
	failed       error // a write or sync failed: the tail is unknown until the next start
}

func segmentName(dir string, seq uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", seq, segmentSuffix))
}

// openEntryLog opens (creating if needed) the log in dir, truncating a torn tail, and calls visit with
// every entry in write order.
func openEntryLog(fs FS, dir string, segmentBytes int64, visit func(*pb.Entry) error) (*entryLog, error) {
	l := &entryLog{fs: fs, dir: dir, segmentBytes: segmentBytes}
	des, err := fs.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("metadata log %s: %w", dir, err)
	}
	for _, de := range des {
		name := de.Name()
		if !strings.HasSuffix(name, segmentSuffix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, segmentSuffix), 10, 64)
		if err != nil {
			continue
		}
		l.segments = append(l.segments, segment{seq: seq, name: filepath.Join(dir, name)})
	}
	sort.Slice(l.segments, func(i, j int) bool { return l.segments[i].seq < l.segments[j].seq })
	for i := range l.segments {
		last := i == len(l.segments)-1
		size, maxIndex, err := l.replaySegment(l.segments[i].name, last, visit)
		if err != nil {
			return nil, err
		}
		l.segments[i].maxIndex = maxIndex
		if last {
			l.activeSize = size
		}
	}
	if len(l.segments) == 0 {
		if err := l.createSegmentLocked(1); err != nil {
			return nil, err
		}
		return l, nil
	}
	f, err := fs.OpenFile(l.segments[len(l.segments)-1].name, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metadata log: %w", err)
	}
	l.active = f
	return l, nil
}

// replaySegment reads the frames of one segment. In the last segment a bad frame is a torn tail and
// is truncated away; anywhere else it is corruption.
func (l *entryLog) replaySegment(name string, last bool, visit func(*pb.Entry) error) (size int64, maxIndex uint64, err error) {
	f, err := l.fs.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("metadata log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(reader(f), 64<<10)
	var pos int64
	var hdr [frameHeaderBytes]byte
	for {
		e, n, ferr := readFrame(r, hdr[:])
		if ferr == io.EOF {
			return pos, maxIndex, nil
		}
		if ferr != nil {
			if !last {
				return 0, 0, fmt.Errorf("%w: %s at byte %d: %v", errCorruptSegment, name, pos, ferr)
			}
			// NB: a torn tail holds only entries that were never acknowledged (they are synced before
			// any message leaves), so dropping them is safe.
			if err := f.Truncate(pos); err != nil {
				return 0, 0, fmt.Errorf("metadata log: truncate torn tail of %s at %d: %w", name, pos, err)
			}
			if err := f.Sync(); err != nil {
				return 0, 0, fmt.Errorf("metadata log: sync %s: %w", name, err)
			}
			return pos, maxIndex, nil
		}
		if err := visit(e); err != nil {
			return 0, 0, fmt.Errorf("metadata log %s at byte %d: %w", name, pos, err)
		}
		maxIndex = max(maxIndex, e.GetIndex())
		pos += n
	}
}

// readFrame decodes one frame; io.EOF means a clean end, any other error a bad or short frame.
func readFrame(r *bufio.Reader, hdr []byte) (*pb.Entry, int64, error) {
	if _, err := io.ReadFull(r, hdr); err != nil {
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		return nil, 0, fmt.Errorf("short frame header: %w", err)
	}
	length := binary.BigEndian.Uint32(hdr[0:4])
	sum := binary.BigEndian.Uint32(hdr[4:8])
	if length < entryHeaderBytes || length > maxEntryDataBytes+entryHeaderBytes {
		return nil, 0, fmt.Errorf("frame length %d out of range", length)
	}
	payload := make([]byte, length)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, 0, fmt.Errorf("short frame of %d bytes: %w", length, err)
	}
	if crc32.Checksum(payload, castagnoli) != sum {
		return nil, 0, errors.New("frame CRC mismatch")
	}
	typ := pb.EntryType(payload[16])
	if _, ok := pb.EntryType_name[int32(typ)]; !ok {
		return nil, 0, fmt.Errorf("unknown entry type %d", payload[16])
	}
	e := &pb.Entry{
		Index: new(binary.BigEndian.Uint64(payload[0:8])),
		Term:  new(binary.BigEndian.Uint64(payload[8:16])),
		Type:  typ.Enum(),
		Data:  payload[entryHeaderBytes:],
	}
	return e, int64(frameHeaderBytes) + int64(length), nil
}

func appendFrame(buf []byte, e *pb.Entry) []byte {
	length := entryHeaderBytes + len(e.GetData())
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, uint32(length))
	buf = binary.BigEndian.AppendUint32(buf, 0)
	buf = binary.BigEndian.AppendUint64(buf, e.GetIndex())
	buf = binary.BigEndian.AppendUint64(buf, e.GetTerm())
	buf = append(buf, byte(e.GetType()))
	buf = append(buf, e.GetData()...)
	binary.BigEndian.PutUint32(buf[start+4:], crc32.Checksum(buf[start+frameHeaderBytes:], castagnoli))
	return buf
}

// append writes entries and syncs once: one write and one fsync per Ready batch.
func (l *entryLog) append(entries []*pb.Entry) error {
	if l.failed != nil {
		return l.failed
	}
	if len(entries) == 0 {
		return nil
	}
	if l.activeSize >= l.segmentBytes {
		if err := l.roll(); err != nil {
			return l.fail(err)
		}
	}
	l.buf = l.buf[:0]
	var maxIndex uint64
	for _, e := range entries {
		if len(e.GetData()) > maxEntryDataBytes {
			return fmt.Errorf("metadata log: entry %d of %d bytes exceeds %d", e.GetIndex(), len(e.GetData()), maxEntryDataBytes)
		}
		l.buf = appendFrame(l.buf, e)
		maxIndex = max(maxIndex, e.GetIndex())
	}
	n, err := l.active.Write(l.buf)
	l.activeSize += int64(n)
	if err != nil {
		return l.fail(fmt.Errorf("metadata log: append to %s: %w", l.active.Name(), err))
	}
	if err := l.active.Sync(); err != nil {
		return l.fail(fmt.Errorf("metadata log: sync %s: %w", l.active.Name(), err))
	}
	s := &l.segments[len(l.segments)-1]
	s.maxIndex = max(s.maxIndex, maxIndex)
	if len(l.buf) > 4<<20 {
		l.buf = nil // NB: do not pin a large batch's buffer forever.
	}
	return nil
}

// fail records err: after a failed write the file's tail is unknown, so nothing more is written in
// this process's lifetime (the next start truncates the torn tail).
func (l *entryLog) fail(err error) error {
	l.failed = err
	return err
}

func (l *entryLog) roll() error {
	next := uint64(1)
	if n := len(l.segments); n > 0 {
		next = l.segments[n-1].seq + 1
	}
	if l.active != nil {
		if err := l.active.Close(); err != nil {
			return fmt.Errorf("metadata log: close %s: %w", l.active.Name(), err)
		}
		l.active = nil
	}
	return l.createSegmentLocked(next)
}

func (l *entryLog) createSegmentLocked(seq uint64) error {
	name := segmentName(l.dir, seq)
	f, err := l.fs.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("metadata log: create %s: %w", name, err)
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		f.Close()
		return fmt.Errorf("metadata log: sync dir %s: %w", l.dir, err)
	}
	l.active = f
	l.activeSize = 0
	l.segments = append(l.segments, segment{seq: seq, name: name})
	return nil
}

// deleteThrough removes closed segments whose entries are all at or below index (covered by a
// snapshot). The active segment stays.
func (l *entryLog) deleteThrough(index uint64) error {
	kept := l.segments[:0]
	var firstErr error
	for i, s := range l.segments {
		if i < len(l.segments)-1 && s.maxIndex <= index && firstErr == nil {
			if err := l.fs.Remove(s.name); err != nil {
				firstErr = fmt.Errorf("metadata log: remove %s: %w", s.name, err)
				kept = append(kept, s)
			}
			continue
		}
		kept = append(kept, s)
	}
	l.segments = kept
	return firstErr
}

// reset starts a new segment and removes every older one: a snapshot received from the leader
// replaces the whole log. The snapshot must be durable before reset is called.
func (l *entryLog) reset() error {
	if l.failed != nil {
		return l.failed
	}
	if err := l.roll(); err != nil {
		return l.fail(err)
	}
	return l.deleteThrough(^uint64(0))
}

func (l *entryLog) close() error {
	if l.active == nil {
		return nil
	}
	err := l.active.Close()
	l.active = nil
	return err
}
