package quorum

import (
	"io"
	"math"
	"os"
	"runtime"

	brokerlog "github.com/gregor-streams/gregor/broker/log"
)

// FS is the filesystem the quorum's storage does all its I/O through, so tests can inject a torn
// write or ENOSPC (pebble's vfs in spirit). It is broker/log's, so the broker hands one FS (and one
// fault injector) to both. A directory is synced by opening it read-only and calling Sync.
type FS = brokerlog.FS

// File is an open file of the metadata directory.
type File = brokerlog.File

// OSFS is the operating system's filesystem.
func OSFS() FS { return brokerlog.OSFS() }

// reader reads f from the start (File has ReadAt, not Read).
func reader(f File) io.Reader { return io.NewSectionReader(f, 0, math.MaxInt64) }

// syncDir makes a rename or a file creation in dir durable.
func syncDir(fs FS, dir string) error {
	if runtime.GOOS == "windows" {
		// NB: Windows cannot fsync a directory handle; NTFS journals the rename itself.
		return nil
	}
	d, err := fs.OpenFile(dir, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeFileAtomic replaces name with data: a temporary file is written and synced, renamed over
// name, and the directory synced, so a crash leaves either the old or the new content.
func writeFileAtomic(fs FS, dir, name string, data []byte) error {
	tmp := name + ".tmp"
	f, err := fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = fs.Remove(tmp)
		return err
	}
	if err := fs.Rename(tmp, name); err != nil {
		return err
	}
	return syncDir(fs, dir)
}

// readFile reads a whole file through fs.
func readFile(fs FS, name string) ([]byte, error) {
	f, err := fs.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(reader(f))
}
