package main

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
	"time"

	"github.com/jackc/pgx/v5"
)

// localPostgres is the demo's throwaway PostgreSQL: the machine's initdb and pg_ctl, a data
// directory under the demo's directory, wal_level=logical for the CDC source, listening on a
// free 127.0.0.1 port. Postgres refuses to run as root, so as root it runs as the `postgres`
// user through runuser.
type localPostgres struct {
	bin, base, data, runAs string
	port                   int
}

// errNoPostgres names what to install.
var errNoPostgres = errors.New("no PostgreSQL: initdb and pg_ctl are neither on PATH nor under /usr/lib/postgresql/*/bin; " +
	"install PostgreSQL (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) or pass --database-url of an existing database with wal_level=logical")

func postgresBinDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	return "", errNoPostgres
}

// startLocalPostgres initialises and starts a server in a temporary directory and returns it
// with the URL of its database shop.
//
// NB: the directory is its own, not under the demo's: as root, the postgres user must be able to
// reach it, and the demo's directory is private.
func startLocalPostgres(ctx context.Context) (_ *localPostgres, _ string, err error) {
	bin, err := postgresBinDir()
	if err != nil {
		return nil, "", err
	}
	base, err := os.MkdirTemp("", "gregor-retail-pg-")
	if err != nil {
		return nil, "", err
	}
	s := &localPostgres{bin: bin, base: base, data: filepath.Join(base, "data")}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, "", fmt.Errorf("running as root and there is no `postgres` user to run Postgres as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(s.base, uid, gid); err != nil {
			return nil, "", err
		}
		s.runAs = "postgres"
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	if out, err := s.run("initdb", "-D", s.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, "", fmt.Errorf("initdb: %v\n%s", err, out)
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c wal_level=logical -c fsync=off", s.port, s.base)
	if out, err := s.run("pg_ctl", "-D", s.data, "-l", filepath.Join(s.base, "postgres.log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		return nil, "", fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, admin)
	if err != nil {
		return nil, "", fmt.Errorf("connect to the fresh Postgres: %w", err)
	}
	defer conn.Close(cctx)
	if _, err := conn.Exec(cctx, "CREATE DATABASE shop"); err != nil {
		return nil, "", fmt.Errorf("create database shop: %w", err)
	}
	return s, strings.Replace(admin, "/postgres?", "/shop?", 1), nil
}

func (s *localPostgres) run(tool string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, tool)
	cmd := exec.Command(path, args...)
	if s.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	}
	cmd.Dir = "/"
	return cmd.CombinedOutput()
}

// stop stops the server at once and removes its files.
func (s *localPostgres) stop() {
	s.run("pg_ctl", "-D", s.data, "-m", "immediate", "-w", "-t", "30", "stop")
	os.RemoveAll(s.base)
}
