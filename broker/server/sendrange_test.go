package server

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Concurrent fetches of one segment share its *os.File: each range must arrive intact whichever
// path the build uses (sendfile, or the portable copy under -tags gregor_portable and off Linux
// and macOS).
func TestFetchSendRangeConcurrentRangesOfOneFile(t *testing.T) {
	t.Logf("zero-copy fetch (sendfile) in this build: %v", zeroCopyFetch)
	data := make([]byte, 6<<20)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "00000000000000000000.log")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	ranges := []FileRange{
		{File: f, Pos: 0, Size: 3 << 19}, // more than one portable chunk
		{File: f, Pos: 12345, Size: 1 << 20},
		{File: f, Pos: 5 << 20, Size: 1<<20 - 7},
		{File: f, Pos: 777, Size: 1},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(ranges))
	for _, r := range ranges {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		server, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		defer server.Close()
		wg.Add(2)
		go func() { // the broker side
			defer wg.Done()
			w := bufio.NewWriter(server)
			var scratch []byte
			for range 3 {
				if err := sendRange(server, w, r, &scratch); err != nil {
					errs <- err
					return
				}
			}
			if err := w.Flush(); err != nil {
				errs <- err
			}
		}()
		go func() { // the client side
			defer wg.Done()
			client.SetReadDeadline(time.Now().Add(10 * time.Second))
			want := data[r.Pos : r.Pos+int64(r.Size)]
			got := make([]byte, r.Size)
			for i := range 3 {
				if _, err := io.ReadFull(client, got); err != nil {
					errs <- fmt.Errorf("range at %d, send %d: %w", r.Pos, i, err)
					return
				}
				if !bytes.Equal(got, want) {
					errs <- fmt.Errorf("range at %d, send %d: wrong bytes", r.Pos, i)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
