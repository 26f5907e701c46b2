package server

import (
	"math/bits"
	"sync"
)

// Request bodies are pooled by power-of-two size class: a produce request is about a megabyte,
// and allocating (and zeroing) a fresh one per request cost a tenth of the broker's CPU.
const (
	minPooledClass = 12 // 4 KiB; smaller bodies are allocated
	maxPooledClass = 27 // 128 MiB
)

var bodyPools [maxPooledClass + 1]sync.Pool

// getBody returns a buffer of length n whose contents are undefined.
func getBody(n int) []byte {
	c := sizeClass(n)
	if c < minPooledClass || c > maxPooledClass {
		return make([]byte, n)
	}
	if p, ok := bodyPools[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<c)
}

// putBody returns a buffer from getBody. The caller must not touch it afterwards.
func putBody(b []byte) {
	c := sizeClass(cap(b))
	if c < minPooledClass || c > maxPooledClass || cap(b) != 1<<c {
		return
	}
	b = b[:0]
	bodyPools[c].Put(&b)
}

// sizeClass is the smallest c with 1<<c >= n.
func sizeClass(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}
