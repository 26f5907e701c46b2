package log

import (
	"io"
	"os"
)

// File is an open file of a partition directory. ReadAt must be safe to call concurrently with
// Write (os.File is); Write appends (files holding segment data are opened with os.O_APPEND).
type File interface {
	io.ReaderAt
	io.Writer
	io.Closer
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Name() string
}

// FS is the filesystem a Log does all its I/O through, so tests can inject torn writes, write
// errors or crashes. Paths are OS paths.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Remove(name string) error
	RemoveAll(path string) error
	Rename(oldpath, newpath string) error
	ReadDir(dir string) ([]os.DirEntry, error)
	MkdirAll(dir string, perm os.FileMode) error
}

// OSFS returns the operating system's filesystem. Its Files are *os.File, so a caller may
// type-assert interface{ Fd() uintptr } (or use io.Copy to a TCP connection for sendfile).
func OSFS() FS { return osFS{} }

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		// NB: return a nil interface, not a typed nil *os.File.
		return nil, err
	}
	return f, nil
}
func (osFS) Remove(name string) error                    { return os.Remove(name) }
func (osFS) RemoveAll(path string) error                 { return os.RemoveAll(path) }
func (osFS) Rename(oldpath, newpath string) error        { return os.Rename(oldpath, newpath) }
func (osFS) ReadDir(dir string) ([]os.DirEntry, error)   { return os.ReadDir(dir) }
func (osFS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }

// ReadFile returns the contents of name, read through fsys.
func ReadFile(fsys FS, name string) ([]byte, error) { return readFile(fsys, name) }

// WriteFileAtomic replaces name with data through fsys: a temporary file, fsync, rename. A crash
// leaves either the old or the new contents.
func WriteFileAtomic(fsys FS, name string, data []byte) error {
	return writeFileAtomic(fsys, name, data)
}
