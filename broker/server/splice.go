package server

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
)

// FileRange is a byte range of a file that a response sends without copying it through user space.
type FileRange struct {
	File io.ReaderAt // *os.File gets sendfile; anything else is read and written
	Pos  int64
	Size int
}

// Splice replaces one bytes field of a response with file ranges. The handler puts Placeholder
// (from NewPlaceholder) into the field; the writer finds it in the encoded message and sends the
// ranges in its place, with the field's length prefix rewritten. Splices must be listed in the
// order their fields are encoded.
type Splice struct {
	Placeholder []byte
	Ranges      []FileRange
	// Compact: the field is a flexible-version (compact, uvarint-length) bytes field.
	Compact bool
}

// Size is the number of bytes the ranges send.
func (s *Splice) Size() int {
	n := 0
	for _, r := range s.Ranges {
		n += r.Size
	}
	return n
}

const placeholderLen = 24

var (
	placeholderPrefix = func() [16]byte {
		var b [16]byte
		rand.Read(b[:])
		return b
	}()
	placeholderSeq atomic.Uint64
)

// NewPlaceholder returns bytes unique to this process and call, to mark a spliced field.
func NewPlaceholder() []byte {
	b := make([]byte, placeholderLen)
	copy(b, placeholderPrefix[:])
	binary.BigEndian.PutUint64(b[16:], placeholderSeq.Add(1))
	return b
}

// ErrSplice means a spliced response could not be laid out; the connection is closed.
var ErrSplice = errors.New("server: splice")

// piece is part of a spliced frame: bytes from the encoded message, or a spliced field.
type piece struct {
	bytes  []byte
	splice *Splice
}

// layoutSplices cuts the encoded frame buf (4-byte size first) into pieces around the placeholders,
// writes the real length prefixes, and fixes the frame size. The returned pieces alias buf.
func layoutSplices(buf []byte, splices []Splice) ([]piece, error) {
	var pieces []piece
	cursor := 4 // after the size
	size := len(buf) - 4
	for i := range splices {
		s := &splices[i]
		at := bytes.Index(buf[cursor:], s.Placeholder)
		if at < 0 {
			return nil, fmt.Errorf("%w: placeholder %d not found", ErrSplice, i)
		}
		at += cursor
		var prefixLen int
		var prefix []byte
		n := s.Size()
		if s.Compact {
			prefixLen = 1 // uvarint(placeholderLen+1) is one byte
			if buf[at-1] != placeholderLen+1 {
				return nil, fmt.Errorf("%w: compact length prefix mismatch", ErrSplice)
			}
			prefix = binary.AppendUvarint(nil, uint64(n)+1)
		} else {
			prefixLen = 4
			if binary.BigEndian.Uint32(buf[at-4:]) != placeholderLen {
				return nil, fmt.Errorf("%w: length prefix mismatch", ErrSplice)
			}
			prefix = binary.BigEndian.AppendUint32(nil, uint32(n))
		}
		pieces = append(pieces, piece{bytes: buf[cursor : at-prefixLen]}, piece{bytes: prefix}, piece{splice: s})
		size += len(prefix) - prefixLen + n - placeholderLen
		cursor = at + placeholderLen
	}
	pieces = append(pieces, piece{bytes: buf[cursor:]})
	binary.BigEndian.PutUint32(buf, uint32(size))
	pieces = append([]piece{{bytes: buf[:4]}}, pieces...)
	return pieces, nil
}

// writeSpliced writes pieces: bytes through w, file ranges with sendfile straight to c when
// possible. w is flushed before each sendfile so bytes stay in order.
func writeSpliced(c net.Conn, w *bufio.Writer, pieces []piece, scratch *[]byte) error {
	for _, p := range pieces {
		if p.splice == nil {
			if _, err := w.Write(p.bytes); err != nil {
				return err
			}
			continue
		}
		for _, r := range p.splice.Ranges {
			if err := w.Flush(); err != nil {
				return err
			}
			if err := sendRange(c, w, r, scratch); err != nil {
				return err
			}
		}
	}
	return nil
}

// sendRange sends one file range: with sendfile(2) from the file to the socket where the build
// has it (sendfile_unix.go) and both ends allow it, else by positional reads into scratch, written
// to the connection chunk by chunk (sendfile_portable.go is the build without sendfile).
func sendRange(c net.Conn, w *bufio.Writer, r FileRange, scratch *[]byte) error {
	if r.Size == 0 {
		return nil
	}
	if handled, err := sendfileRange(c, r); handled {
		return err
	}
	return copyRange(w, r, scratch)
}

// copyChunk bounds the scratch buffer of the portable path.
const copyChunk = 1 << 20

// copyRange sends r through user space, copyChunk bytes at a time.
//
// NB: it reads at explicit offsets (ReadAt, pread) instead of io.Copy from the *os.File: Go's
// io.Copy to a TCP connection (TransmitFile on Windows) reads from the file's shared offset, which
// concurrent fetches of one segment would move under each other.
func copyRange(w *bufio.Writer, r FileRange, scratch *[]byte) error {
	if cap(*scratch) < min(r.Size, copyChunk) {
		*scratch = make([]byte, min(r.Size, copyChunk))
	}
	for off := 0; off < r.Size; {
		b := (*scratch)[:min(r.Size-off, cap(*scratch))]
		if _, err := r.File.ReadAt(b, r.Pos+int64(off)); err != nil {
			return fmt.Errorf("read for fetch: %w", err)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		off += len(b)
	}
	return nil
}
