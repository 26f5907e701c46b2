//go:build (linux || darwin) && !gregor_portable

package server

import (
	"fmt"
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// zeroCopyFetch reports whether fetches use sendfile(2) in this build (the gregor_portable build
// tag turns it off).
const zeroCopyFetch = true

// sendfileRange sends r with sendfile(2) when the file and the connection expose their
// descriptors; handled is false when they do not, and the caller copies instead.
func sendfileRange(c net.Conn, r FileRange) (handled bool, err error) {
	fileSC, fok := r.File.(syscall.Conn)
	connSC, cok := c.(syscall.Conn)
	if !fok || !cok {
		return false, nil
	}
	frc, err1 := fileSC.SyscallConn()
	crc, err2 := connSC.SyscallConn()
	if err1 != nil || err2 != nil {
		return false, nil
	}
	return true, sendfile(frc, crc, r)
}

func sendfile(file, conn syscall.RawConn, r FileRange) error {
	var opErr error
	// Control holds the file descriptor open for the duration, so a segment deleted concurrently
	// cannot close it mid-send.
	err := file.Control(func(infd uintptr) {
		off := r.Pos
		remain := r.Size
		werr := conn.Write(func(outfd uintptr) bool {
			for remain > 0 {
				// NB: Linux advances the offset it is given, macOS does not: count it ourselves.
				pos := off
				n, err := unix.Sendfile(int(outfd), int(infd), &pos, remain)
				if n > 0 {
					remain -= n
					off += int64(n)
				}
				switch {
				case err == unix.EAGAIN:
					if n > 0 {
						continue // macOS reports a partial send with EAGAIN
					}
					return false // wait until the socket is writable
				case err == unix.EINTR:
					continue
				case err != nil:
					opErr = err
					return true
				case n == 0:
					opErr = io.ErrUnexpectedEOF // file shorter than the range
					return true
				}
			}
			return true
		})
		if opErr == nil {
			opErr = werr
		}
	})
	if err != nil {
		return err
	}
	if opErr != nil {
		return fmt.Errorf("sendfile: %w", opErr)
	}
	return nil
}
