package testpg

import (
	"context"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

func TestServerRunsWithLogicalWAL(t *testing.T) {
	s := Start(t)
	db := s.NewDatabase(t)
	conn := s.Connect(t, db)
	var level string
	if err := conn.QueryRow(context.Background(), "SHOW wal_level").Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level != "logical" {
		t.Fatalf("wal_level = %q, want logical", level)
	}
	s.Exec(t, db, "CREATE TABLE t (id int primary key)", "INSERT INTO t VALUES (1)")
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("count = %d, %v", n, err)
	}
}

func TestDedicatedServerHaltsAndResumes(t *testing.T) {
	s := StartDedicated(t)
	s.Exec(t, "postgres", "CREATE TABLE k (v int)", "INSERT INTO k VALUES (7)")
	s.Halt(t)
	s.Resume(t)
	conn := s.Connect(t, "postgres")
	var v int
	if err := conn.QueryRow(context.Background(), "SELECT v FROM k").Scan(&v); err != nil || v != 7 {
		t.Fatalf("after resume v = %d, %v", v, err)
	}
}
