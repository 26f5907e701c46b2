package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/gregor-streams/gregor/schemaregistry"
)

// syncBuffer is a bytes.Buffer a running command writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSchemaRegistryCommandServesTheRegistry(t *testing.T) {
	bootstrap := startTestCluster(t)
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, []string{"schema-registry", "--listen", "127.0.0.1:0", "-b", bootstrap, "--log-level", "warn"},
			strings.NewReader(""), &stdout, &stderr)
	}()
	urlPattern := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)`)
	var url string
	testutil.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		m := urlPattern.FindStringSubmatch(stdout.String())
		if m == nil {
			return fmt.Errorf("no URL printed yet; stderr: %s", stderr.String())
		}
		url = m[1]
		return nil
	})
	resp, err := http.Post(url+"/subjects/cli-value/versions", "application/vnd.schemaregistry.v1+json",
		strings.NewReader(`{"schema":"\"string\""}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"id":1}` {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("schema-registry exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("schema-registry did not stop")
	}
}

func TestServerConfigSchemaRegistryKeysAreTakenOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(path, []byte("log.dirs=/tmp/x\nschema.registry.listener=http://127.0.0.1:18081\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rest, started, err := serverSchemaRegistry(t.Context(), path, []string{"schema.registry.group.id=g", "num.partitions=3"}, nil)
	if err != nil || started == nil {
		t.Fatalf("split: %v", err)
	}
	if strings.Join(rest, ",") != "log.dirs=/tmp/x,num.partitions=3" {
		t.Fatalf("broker settings: %v", rest)
	}
	if _, _, err := serverSchemaRegistry(t.Context(), "", []string{"schema.registry.nope=1"}, nil); err == nil {
		t.Fatal("an unknown schema.registry key was accepted")
	}
}

func TestServerServesTheRegistryOnItsListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	registryAddr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- cmdServer(ctx, []string{"--log-level", "warn", "--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set", "log.dirs=" + t.TempDir(),
			"--set", "schema.registry.listener=http://" + registryAddr}, io.Discard, io.Discard)
	}()
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		resp, err := http.Get("http://" + registryAddr + "/schemas/types")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "AVRO") {
			return fmt.Errorf("%d %s", resp.StatusCode, body)
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("gregor server: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gregor server did not stop")
	}
}

func TestSchemaRegistryReadsConfluentProperties(t *testing.T) {
	path := filepath.Join(t.TempDir(), "schema-registry.properties")
	props := "listeners=http://0.0.0.0:18081\nkafkastore.bootstrap.servers=PLAINTEXT://k1:9092,PLAINTEXT://k2:9092\n" +
		"kafkastore.topic=_schemas_eu\nschema.registry.group.id=eu\nleader.eligibility=false\nhost.name=sr1.example\n"
	if err := os.WriteFile(path, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	var cfg schemaregistry.Config
	if err := applyRegistryProperties(path, map[string]bool{"topic": true}, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:18081" || strings.Join(cfg.BootstrapServers, ",") != "k1:9092,k2:9092" || cfg.Topic != "" ||
		cfg.GroupID != "eu" || !cfg.NotLeaderEligible || cfg.AdvertisedURL != "http://sr1.example:18081" {
		t.Fatalf("config: %+v", cfg)
	}
}
