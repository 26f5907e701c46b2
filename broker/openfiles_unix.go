//go:build unix

package broker

import (
	"os"
	"syscall"
)

// openFiles reports the process's open file descriptors and its soft limit (ok=false where they
// cannot be read).
func openFiles() (open, limit uint64, ok bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 0, 0, false
	}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		if d, err = os.Open("/dev/fd"); err != nil {
			return 0, 0, false
		}
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, 0, false
	}
	return uint64(len(names)), uint64(rl.Cur), true
}
