package metrics

import (
	"os"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gregor-streams/gregor/broker/log"
)

// TimeFsyncs returns fs with every File's Sync timed into the fsync latency histogram. Other calls
// pass straight through. On a nil *Broker it returns fs unchanged.
func (m *Broker) TimeFsyncs(fs log.FS) log.FS {
	if m == nil {
		return fs
	}
	return timedFS{FS: fs, h: m.fsync}
}

type timedFS struct {
	log.FS
	h prometheus.Observer
}

func (t timedFS) OpenFile(name string, flag int, perm os.FileMode) (log.File, error) {
	f, err := t.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	tf := timedFile{File: f, h: t.h}
	// NB: the fetch path sends segment bytes with sendfile when the file is a syscall.Conn
	// (broker/server); the wrapper must keep that capability visible.
	if sc, ok := f.(syscall.Conn); ok {
		return timedSysFile{timedFile: tf, sc: sc}, nil
	}
	return tf, nil
}

type timedFile struct {
	log.File
	h prometheus.Observer
}

func (f timedFile) Sync() error {
	start := time.Now()
	err := f.File.Sync()
	f.h.Observe(time.Since(start).Seconds())
	return err
}

type timedSysFile struct {
	timedFile
	sc syscall.Conn
}

func (f timedSysFile) SyscallConn() (syscall.RawConn, error) { return f.sc.SyscallConn() }
