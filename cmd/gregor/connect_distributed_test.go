package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testutil"
)

func TestConnectDistributedRunsAWorkerThatCopiesThroughItsREST(t *testing.T) {
	bs := startTestCluster(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	if err := os.WriteFile(in, []byte("one\ntwo\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	worker := filepath.Join(dir, "worker.properties")
	props := fmt.Sprintf("bootstrap.servers=%s\nlisteners=http://127.0.0.1:0\ngroup.id=cli-cluster\n"+
		"config.storage.topic=cli-configs\noffset.storage.topic=cli-offsets\nstatus.storage.topic=cli-status\n"+
		"config.storage.replication.factor=1\noffset.storage.replication.factor=1\nstatus.storage.replication.factor=1\n"+
		"offset.flush.interval.ms=200\nkey.converter=org.apache.kafka.connect.storage.StringConverter\n"+
		"value.converter=org.apache.kafka.connect.storage.StringConverter\n", bs)
	if err := os.WriteFile(worker, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, []string{"connect", "distributed", worker}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("connect distributed: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("connect distributed did not stop")
		}
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no address printed: %v", err)
	}
	go io.Copy(io.Discard, pr)
	url := strings.TrimSpace(line[strings.Index(line, "http://"):])

	// The CLI client subcommands work against the distributed worker too; the first rebalance may
	// still run (409), so create with retries.
	for _, c := range []string{
		fmt.Sprintf(`{"name":"lines","config":{"connector.class":"FileStreamSource","file":%q,"topic":"cli-lines"}}`, in),
		fmt.Sprintf(`{"name":"copy","config":{"connector.class":"FileStreamSink","file":%q,"topics":"cli-lines"}}`, out),
	} {
		testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
			resp, err := http.Post(url+"/connectors", "application/json", strings.NewReader(c))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case 201:
				return nil
			case 409:
				return errors.New("POST /connectors: 409 (a rebalance)")
			}
			t.Fatalf("POST /connectors: %d", resp.StatusCode)
			return nil
		})
	}
	waitStatus(t, url, "copy", "RUNNING")
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if got, _ := os.ReadFile(out); string(got) != "one\ntwo\nthree\n" {
			return fmt.Errorf("sink file holds %q", got)
		}
		return nil
	})
}

func TestDeployedDistributedWorkerPropertiesAreValid(t *testing.T) {
	props, err := readPropertiesFile("../../deploy/connect-distributed.properties")
	if err != nil {
		t.Fatal(err)
	}
	c, err := connect.ParseDistributedConfig(props)
	if err != nil {
		t.Fatalf("deploy/connect-distributed.properties: %v", err)
	}
	if c.GroupID != "connect-cluster" || c.ConfigTopic != "connect-configs" || c.OffsetPartitions != 25 {
		t.Errorf("parsed %+v", c)
	}
}
