// Package testpg starts a throwaway PostgreSQL server for tests: the machine's own initdb and pg_ctl
// (found on PATH or under /usr/lib/postgresql/*/bin), a data directory in a temp dir, wal_level=logical
// so logical replication works, listening only on a free 127.0.0.1 port. Postgres refuses to run as
// root, so when the tests run as root (CI does) the server runs as the machine's `postgres` user
// through runuser, with a data directory that user owns.
//
// One server is shared by all tests of a package (Start is cheap after the first call); each test gets
// its own database from NewDatabase, so tests do not see each other's tables, slots or publications.
package testpg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running Postgres.
type Server struct {
	Host     string // always 127.0.0.1
	Port     int
	User     string // superuser with replication rights
	Password string // empty: trust authentication on loopback
	dataDir  string
	binDir   string
	runAs    string // "" or "postgres"
	opts     string
	logFile  string
}

var (
	once     sync.Once
	shared   *Server
	startErr error
	dbSeq    int
	dbSeqMu  sync.Mutex
)

// BinDir returns the directory holding initdb and pg_ctl, or an error naming where it looked.
func BinDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			real, err := filepath.EvalSymlinks(p)
			if err == nil {
				return filepath.Dir(real), nil
			}
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // newest major first
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries: initdb/pg_ctl not on PATH nor under /usr/lib/postgresql/*/bin (install the Debian package postgresql)")
}

// Start returns the package's shared server, starting it on first use. The test is skipped, with
// the reason, only when no Postgres binaries exist on the machine; any other failure fails it.
// The server is stopped by StopShared, which a package's TestMain should call after m.Run.
func Start(t testing.TB) *Server {
	t.Helper()
	once.Do(func() { shared, startErr = start() })
	if startErr != nil {
		if strings.HasPrefix(startErr.Error(), "no PostgreSQL server binaries") {
			t.Skip(startErr.Error())
		}
		t.Fatalf("testpg: %v", startErr)
	}
	return shared
}

// StopShared stops the shared server, if one was started. Call it from TestMain after m.Run.
func StopShared() {
	if shared != nil {
		shared.stop()
	}
}

func start() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	s := &Server{Host: "127.0.0.1", binDir: bin, User: "gregor"}
	base, err := os.MkdirTemp("", "gregor-testpg-")
	if err != nil {
		return nil, err
	}
	s.dataDir = filepath.Join(base, "data")
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no `postgres` user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			return nil, err
		}
		s.runAs = "postgres"
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.Port = port
	if out, err := s.run("initdb", "-D", s.dataDir, "-U", s.User, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	opts := strings.Join([]string{
		"-c listen_addresses=127.0.0.1",
		"-p " + strconv.Itoa(port),
		"-c unix_socket_directories=" + base,
		"-c wal_level=logical",
		"-c max_replication_slots=40",
		"-c max_wal_senders=40",
		"-c max_connections=200",
		"-c fsync=off",
		"-c full_page_writes=off",
	}, " ")
	s.opts = opts
	s.logFile = filepath.Join(base, "postgres.log")
	if err := s.pgStart(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("connect to fresh server: %w", err)
	}
	conn.Close(ctx)
	return s, nil
}

func (s *Server) pgStart() error {
	if out, err := s.run("pg_ctl", "-D", s.dataDir, "-l", s.logFile, "-o", s.opts, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(s.logFile)
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return nil
}

// StartDedicated starts a server of the test's own (not the shared one), removed when the test
// ends. Use it for tests that stop and restart Postgres (Halt, Resume).
func StartDedicated(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		if strings.HasPrefix(err.Error(), "no PostgreSQL server binaries") {
			t.Skip(err.Error())
		}
		t.Fatalf("testpg: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// Halt stops the server at once (pg_ctl -m immediate), as a crash would; data stays.
func (s *Server) Halt(t testing.TB) {
	t.Helper()
	if out, err := s.run("pg_ctl", "-D", s.dataDir, "-m", "immediate", "-w", "-t", "30", "stop"); err != nil {
		t.Fatalf("testpg: pg_ctl stop: %v\n%s", err, out)
	}
}

// Resume starts a halted server again on the same port and data directory.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	if err := s.pgStart(); err != nil {
		t.Fatalf("testpg: %v", err)
	}
}

func (s *Server) run(tool string, args ...string) ([]byte, error) {
	path := filepath.Join(s.binDir, tool)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = "/"
	return cmd.CombinedOutput()
}

func (s *Server) stop() {
	s.run("pg_ctl", "-D", s.dataDir, "-m", "immediate", "-w", "-t", "30", "stop")
	os.RemoveAll(filepath.Dir(s.dataDir))
}

// URL returns a connection URL for a database on the server.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", s.User, s.Host, s.Port, db)
}

// NewDatabase creates a fresh database for the test and drops it (with its replication slots) when
// the test ends. It returns the database name.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	dbSeqMu.Lock()
	dbSeq++
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq)
	dbSeqMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("testpg: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testpg: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		// Slots of this database hold WAL; drop them (terminating any walsender still using them).
		conn.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL`, name)
		time.Sleep(50 * time.Millisecond)
		conn.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`, name)
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return name
}

// Connect opens a connection to db, closed when the test ends.
func (s *Server) Connect(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL(db))
	if err != nil {
		t.Fatalf("testpg: connect %s: %v", db, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Exec runs SQL statements on db and fails the test on error.
func (s *Server) Exec(t testing.TB, db string, sql ...string) {
	t.Helper()
	conn := s.Connect(t, db)
	for _, q := range sql {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("testpg: %s: %v", q, err)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
