//go:build !unix

package broker

// openFiles reports ok=false: Windows has no per-process descriptor limit like `ulimit -n`
// (handles are bounded by memory), so the open-file check does not apply there.
func openFiles() (open, limit uint64, ok bool) { return 0, 0, false }
