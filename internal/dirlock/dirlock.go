// Package dirlock gives a data directory one owner: a process takes an exclusive lock on the
// directory's `.lock` file (Kafka's name) before it opens anything else in it, and a second process
// asking for the same directory is refused with an error naming the holder's PID. The lock is the
// operating system's own (flock on Unix, LockFileEx on Windows), so it is released when the holder
// exits for any reason, kill -9 included, and a stale `.lock` file never blocks a restart.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileName is the lock file's name inside the locked directory.
const FileName = ".lock"

// ErrLocked is returned (wrapped) when another process holds the directory.
var ErrLocked = errors.New("dirlock: directory is in use by another process")

// Lock is a held directory lock.
type Lock struct {
	f   *os.File
	dir string
}

// Acquire creates dir if needed and takes its lock without waiting. If another process holds it,
// the error wraps ErrLocked and names the directory and the holder's PID as that process wrote it.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return acquire(dir, filepath.Join(dir, FileName))
}

// AcquireFile locks one file's use rather than a whole directory's: it takes the lock file
// `<file>.lock` beside it, so two processes whose files share a directory (`/tmp/a.offsets` and
// `/tmp/b.offsets`) do not refuse each other. The directory must exist.
func AcquireFile(file string) (*Lock, error) {
	return acquire(file, file+".lock")
}

func acquire(dir, path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		if errors.Is(err, errWouldBlock) {
			holder := "unknown"
			if b, rerr := os.ReadFile(path); rerr == nil && len(strings.TrimSpace(string(b))) > 0 {
				holder = strings.TrimSpace(string(b))
			}
			return nil, fmt.Errorf("%w: %s is locked by process %s (another gregor using the same directory?)", ErrLocked, dir, holder)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// NB: the PID is informational (for the refusal message); the OS lock is what excludes. A write
	// failure (a full disk) must not stop the holder from starting, so it is ignored.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f, dir: dir}, nil
}

// Dir is the locked directory (or, for AcquireFile, the locked file).
func (l *Lock) Dir() string { return l.dir }

// Release gives the lock up. It is idempotent and safe on a nil Lock. The `.lock` file stays, as
// Kafka's does; its PID is stale once released and is never trusted for exclusion.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlockFile(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
