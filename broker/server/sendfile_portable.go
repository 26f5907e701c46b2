//go:build !(linux || darwin) || gregor_portable

package server

import "net"

// zeroCopyFetch reports whether fetches use sendfile(2) in this build: not on this OS, or not with
// the gregor_portable build tag (which runs the portable path on Linux, for tests).
const zeroCopyFetch = false

// sendfileRange never handles a range in this build: fetches take the portable copy.
func sendfileRange(net.Conn, FileRange) (handled bool, err error) { return false, nil }
