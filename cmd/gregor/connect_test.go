package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testutil"
)

func TestConnectStandaloneRunsConnectorFilesAndServesREST(t *testing.T) {
	bs := startTestCluster(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(src, []byte("one\ntwo\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	worker := filepath.Join(dir, "worker.properties")
	os.WriteFile(worker, []byte(fmt.Sprintf("bootstrap.servers=%s\nlisteners=http://127.0.0.1:0\noffset.flush.interval.ms=200\noffset.storage.file.filename=%s\nkey.converter=org.apache.kafka.connect.storage.StringConverter\nvalue.converter=org.apache.kafka.connect.storage.StringConverter\n", bs, filepath.Join(dir, "offsets"))), 0o644)
	conn := filepath.Join(dir, "source.json")
	os.WriteFile(conn, []byte(fmt.Sprintf(`{"name":"lines","config":{"connector.class":"FileStreamSource","file":%q,"topic":"lines"}}`, src)), 0o644)
	sinkProps := filepath.Join(dir, "sink.properties")
	out := filepath.Join(dir, "out.txt")
	os.WriteFile(sinkProps, []byte("name=copy\nconnector.class=org.apache.kafka.connect.file.FileStreamSinkConnector\ntopics=lines\nfile="+out+"\n"), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, []string{"connect", "standalone", worker, conn, sinkProps}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("connect standalone: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("connect standalone did not stop")
		}
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no address printed: %v", err)
	}
	go io.Copy(io.Discard, pr)
	addr := strings.TrimSpace(strings.TrimPrefix(line, "Connect worker listening on "))

	resp, err := http.Get(addr + "/connectors")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	json.NewDecoder(resp.Body).Decode(&names)
	resp.Body.Close()
	if len(names) != 2 {
		t.Fatalf("GET /connectors: %v, want lines and copy", names)
	}
	var got []byte
	err = testutil.Poll(20*time.Second, 50*time.Millisecond, func() error {
		if got, _ = os.ReadFile(out); string(got) != "one\ntwo\nthree\n" {
			return errors.New("sink file incomplete")
		}
		return nil
	})
	if err != nil {
		st, _ := http.Get(addr + "/connectors?expand=status")
		body, _ := io.ReadAll(st.Body)
		r := gregor(t, "", "consume", "--topic", "lines", "--from-beginning", "--print-timestamp", "--timeout-ms", "2000", "-b", bs)
		g := gregor(t, "", "groups", "describe", "--all-groups", "-b", bs)
		t.Fatalf("sink file holds %q after 20 s; status %s\ntopic: %q %q\ngroups: %s %s", got, body, r.stdout, r.stderr, g.stdout, g.stderr)
	}
}
