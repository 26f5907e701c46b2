package schemaregistry

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestKafkajsConfluentSchemaRegistryClient runs testdata/kafkajs_schema_registry.js under node with
// the npm @kafkajs/confluent-schema-registry from .ci/node_modules (scripts/test-deps.sh installs
// it): a client of Confluent's registry registers, evolves, encodes/decodes, looks up and deletes
// against ours, and gets an incompatible change refused.
func TestKafkajsConfluentSchemaRegistryClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		missingDependency(t, "node not on PATH")
	}
	_, file, _, _ := runtime.Caller(0)
	modules := filepath.Join(filepath.Dir(file), "..", ".ci", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "@kafkajs", "confluent-schema-registry", "package.json")); err != nil {
		missingDependency(t, "@kafkajs/confluent-schema-registry not installed under "+modules)
	}
	_, s := startBrokerAndRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "kafkajs_schema_registry.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "GREGOR_REGISTRY="+s.URL())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node: %v\nstdout:\n%.2000s\nstderr:\n%.4000s", err, stdout.String(), stderr.String())
	}
	var out struct {
		ID1, ID1Again, ID2, Latest, ByVersion, BySchema, JSONID, ProtoID int
		Frame                                                            []int
		Decoded                                                          map[string]any
		JSONDecoded                                                      map[string]any
		ProtoDecoded                                                     map[string]any
		Incompatible                                                     json.RawMessage
		SoftDelete, HardDelete                                           struct {
			Status int
			Body   []int
		}
		Subjects []string
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("output: %v\n%s", err, stdout.String())
	}
	if out.ID1 != 1 || out.ID1Again != 1 || out.ID2 != 2 || out.Latest != 2 || out.ByVersion != 1 || out.BySchema != 2 {
		t.Errorf("ids: %s", stdout.String())
	}
	if len(out.Frame) != 5 || out.Frame[0] != 0 || out.Frame[4] != 2 {
		t.Errorf("wire frame: %v", out.Frame)
	}
	if out.Decoded["id"] != "p-1" || out.Decoded["amount"] != 12.5 {
		t.Errorf("decoded: %v", out.Decoded)
	}
	if !strings.Contains(string(out.Incompatible), "READER_FIELD_MISSING_DEFAULT_VALUE") {
		t.Errorf("incompatible change: %s", out.Incompatible)
	}
	if out.JSONDecoded["sku"] != "A-1" || out.ProtoDecoded["id"] != "o-1" {
		t.Errorf("json %v, protobuf %v", out.JSONDecoded, out.ProtoDecoded)
	}
	if out.SoftDelete.Status != 200 || out.HardDelete.Status != 200 || len(out.HardDelete.Body) != 2 {
		t.Errorf("deletes: %+v %+v", out.SoftDelete, out.HardDelete)
	}
	if strings.Join(out.Subjects, ",") != "items-value,orders-value" {
		t.Errorf("subjects: %v", out.Subjects)
	}
}

// missingDependency skips (developer machine) or fails (CI) when a test dependency is not installed.
func missingDependency(t *testing.T, what string) {
	t.Helper()
	msg := what + "; run scripts/test-deps.sh (or make test) to install it"
	if os.Getenv("CI") != "" {
		t.Fatalf("CI: %s", msg)
	}
	t.Skip(msg)
}
