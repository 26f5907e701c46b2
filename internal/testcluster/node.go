//go:build unix

package testcluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// Bounds on every wait for a node's process.
const (
	startTimeout = 60 * time.Second // from exec to the "listening" log line (includes log recovery)
	stopTimeout  = 30 * time.Second // from SIGTERM to exit
	killTimeout  = 10 * time.Second // from SIGKILL to exit
)

// ErrNotRunning is returned by a fault that needs a running node.
var ErrNotRunning = errors.New("testcluster: node is not running")

// Node is one gregor process of a Cluster with its data directory, log file, fixed ports and
// proxies. Its methods are safe for concurrent use.
type Node struct {
	// Index is the node's place in Cluster.Nodes; ID is its node.id (Index+1).
	Index int
	ID    int32
	// Dir is the node's data directory (log.dirs); LogPath the file its stderr goes to.
	Dir, LogPath string
	// Port is the node's own client listener port; Proxy fronts it and is what is advertised.
	Port  int
	Proxy *Proxy
	// ControllerPort and ControllerProxy exist when the cluster has controller listeners
	// (Controllers or KRaft options); ControllerPort is 0 otherwise.
	ControllerPort  int
	ControllerProxy *Proxy

	bin  string   // the gregor binary
	args []string // `server --set ...`, fixed once the cluster is laid out
	// pid is the running process's ID, 0 when none; read without mu by the proxies telling
	// connections apart (they must not wait for a node that is starting).
	pid atomic.Int64

	mu struct {
		sync.Mutex
		cmd    *exec.Cmd
		done   chan struct{} // closed when cmd has exited
		paused bool
		starts int
	}
}

// Addr is the address clients use for this node: its proxy.
func (n *Node) Addr() string { return n.Proxy.Addr() }

// Args returns the arguments the node's process runs with (after the binary).
func (n *Node) Args() []string { return append([]string(nil), n.args...) }

// PID returns the running process's ID, or 0 if the node is not running.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.runningLocked() {
		return 0
	}
	return n.mu.cmd.Process.Pid
}

// Running reports whether the node's process is alive (paused counts as alive).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.runningLocked()
}

func (n *Node) runningLocked() bool {
	if n.mu.cmd == nil {
		return false
	}
	select {
	case <-n.mu.done:
		return false
	default:
		return true
	}
}

// Start starts the node's process (same dir, same ports as every earlier start) and waits until
// it logs that it listens on its port. It fails if the node is already running.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.runningLocked() {
		return fmt.Errorf("testcluster: node %d: already running (pid %d)", n.ID, n.mu.cmd.Process.Pid)
	}
	logFile, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("testcluster: node %d: %w", n.ID, err)
	}
	defer logFile.Close() // the child holds its own descriptor
	n.mu.starts++
	fmt.Fprintf(logFile, "=== testcluster: start %d of node %d: %s %s\n", n.mu.starts, n.ID, n.bin, strings.Join(n.args, " "))
	from, _ := logFile.Seek(0, 2)

	cmd := exec.Command(n.bin, n.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testcluster: node %d: %w", n.ID, err)
	}
	done := make(chan struct{})
	n.pid.Store(int64(cmd.Process.Pid))
	go func() { cmd.Wait(); n.pid.Store(0); close(done) }()
	n.mu.cmd, n.mu.done, n.mu.paused = cmd, done, false

	want := "addr=127.0.0.1:" + strconv.Itoa(n.Port)
	err = testutil.Poll(startTimeout, 20*time.Millisecond, func() error {
		select {
		case <-done:
			return fmt.Errorf("exited with %v before listening", cmd.ProcessState)
		default:
		}
		b, err := os.ReadFile(n.LogPath)
		if err != nil {
			return err
		}
		if int64(len(b)) > from {
			for line := range bytes.Lines(b[from:]) {
				if bytes.Contains(line, []byte("msg=listening")) && bytes.Contains(line, []byte(want+" ")) {
					return nil
				}
			}
		}
		return fmt.Errorf("no %q log line yet", "msg=listening "+want)
	})
	if err != nil {
		n.killLocked()
		return fmt.Errorf("testcluster: node %d did not start: %w\n%s", n.ID, err, n.LogTail(40))
	}
	return nil
}

// Kill sends SIGKILL and waits for the process to exit: a crash, the page cache survives.
func (n *Node) Kill() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.runningLocked() {
		return fmt.Errorf("node %d: kill: %w", n.ID, ErrNotRunning)
	}
	return n.killLocked()
}

func (n *Node) killLocked() error {
	if n.mu.cmd == nil {
		return nil
	}
	n.mu.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-n.mu.done:
		n.mu.paused = false
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("testcluster: node %d (pid %d) still running %v after SIGKILL", n.ID, n.mu.cmd.Process.Pid, killTimeout)
	}
}

// Stop sends SIGTERM (resuming a paused process first) and waits for a clean exit; a process
// still running after 30s is killed and reported.
func (n *Node) Stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.runningLocked() {
		return fmt.Errorf("node %d: stop: %w", n.ID, ErrNotRunning)
	}
	p := n.mu.cmd.Process
	if n.mu.paused {
		p.Signal(syscall.SIGCONT)
		n.mu.paused = false
	}
	p.Signal(syscall.SIGTERM)
	select {
	case <-n.mu.done:
		if st := n.mu.cmd.ProcessState; st != nil && !st.Success() {
			return fmt.Errorf("testcluster: node %d exited with %v after SIGTERM", n.ID, st)
		}
		return nil
	case <-time.After(stopTimeout):
		n.killLocked()
		return fmt.Errorf("testcluster: node %d (pid %d) still running %v after SIGTERM; killed", n.ID, p.Pid, stopTimeout)
	}
}

// Restart stops the node with SIGTERM if it runs, then starts it again on the same dir and ports.
func (n *Node) Restart() error {
	if n.Running() {
		if err := n.Stop(); err != nil {
			return err
		}
	}
	return n.Start()
}

// Pause stops the process with SIGSTOP: it keeps its sockets but answers nothing, as a long GC
// pause or a hung disk looks.
func (n *Node) Pause() error { return n.signal(syscall.SIGSTOP, true) }

// Resume continues a paused process with SIGCONT.
func (n *Node) Resume() error { return n.signal(syscall.SIGCONT, false) }

func (n *Node) signal(sig syscall.Signal, paused bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.runningLocked() {
		return fmt.Errorf("node %d: %v: %w", n.ID, sig, ErrNotRunning)
	}
	if err := n.mu.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("testcluster: node %d: %v: %w", n.ID, sig, err)
	}
	if sig == syscall.SIGSTOP {
		if err := waitStopped(n.mu.cmd.Process.Pid); err != nil {
			return fmt.Errorf("testcluster: node %d: %w", n.ID, err)
		}
	}
	n.mu.paused = paused
	return nil
}

// Paused reports whether the node was paused and not resumed since.
func (n *Node) Paused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.paused && n.runningLocked()
}

// SetNetwork puts every proxy of the node (client and controller listeners) in mode m: Cut
// severs the node from everyone who dials it, Blackhole partitions it, Open heals it.
//
// NB: the proxies sit in front of the node's listeners, so they govern connections *to* the
// node. Connections the node itself opens to peers go through the peers' proxies and are not
// affected; to isolate a node completely in a cluster, also blackhole its peers' controller
// proxies, or identify connections by source (see docs/chaos.md).
func (n *Node) SetNetwork(m Mode) {
	n.Proxy.SetMode(m)
	if n.ControllerProxy != nil {
		n.ControllerProxy.SetMode(m)
	}
}

// Cut severs the node's network: Cut mode on each of its proxies.
func (n *Node) Cut() { n.SetNetwork(Cut) }

// Heal reopens the node's network.
func (n *Node) Heal() { n.SetNetwork(Open) }

// LogTail returns the last lines of the node's log file.
func (n *Node) LogTail(lines int) string {
	b, err := os.ReadFile(n.LogPath)
	if err != nil {
		return fmt.Sprintf("(log %s: %v)", n.LogPath, err)
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
