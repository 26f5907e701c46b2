package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/schemaregistry"
)

// schemasCmd runs `gregor schemas args... -r url` and returns stdout and the error.
func schemasCmd(t *testing.T, url string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := dispatch(t.Context(), append(append([]string{"schemas"}, args...), "-r", url), strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), err
}

// TestSchemasCommandRegistersChecksGetsConfiguresAndDeletes drives every `gregor schemas`
// subcommand against a real registry: an incompatible change is reported with the rule and exits
// non-zero, a compatible one registers as version 2, config sets and reads a subject's level, and
// delete soft-deletes and then permanently deletes the subject.
func TestSchemasCommandRegistersChecksGetsConfiguresAndDeletes(t *testing.T) {
	bootstrap := startTestCluster(t)
	reg, err := schemaregistry.Start(context.Background(), schemaregistry.Config{BootstrapServers: []string{bootstrap}, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	url := reg.URL()
	v1 := `{"type":"record","name":"User","fields":[{"name":"name","type":"string"}]}`
	file := filepath.Join(t.TempDir(), "user.avsc")
	if err := os.WriteFile(file, []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	must := func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("%v (stdout %q)", err, out)
		}
		return out
	}
	if out := must(schemasCmd(t, url, "register", "--subject", "users-value", "--schema-file", file)); !strings.Contains(out, "version 1 id ") {
		t.Errorf("register: %q", out)
	}
	// --schema-registry-url is the name produce and consume take; --registry-url and -r are the same flag.
	for _, flag := range []string{"--schema-registry-url", "--registry-url"} {
		var stdout, stderr bytes.Buffer
		if err := dispatch(t.Context(), []string{"schemas", "list", flag, url}, strings.NewReader(""), &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "users-value") {
			t.Errorf("schemas list %s: %q, %v (stderr %q)", flag, stdout.String(), err, stderr.String())
		}
	}
	noDefault := `{"type":"record","name":"User","fields":[{"name":"name","type":"string"},{"name":"age","type":"int"}]}`
	out, err := schemasCmd(t, url, "check", "--subject", "users-value", "--schema", noDefault)
	if !errors.Is(err, errIncompatible) || !strings.Contains(out, "incompatible") || !strings.Contains(out, "age") {
		t.Errorf("check of a field added without default: %q, %v", out, err)
	}
	withDefault := `{"type":"record","name":"User","fields":[{"name":"name","type":"string"},{"name":"age","type":"int","default":0}]}`
	if out := must(schemasCmd(t, url, "check", "--subject", "users-value", "--schema", withDefault)); strings.TrimSpace(out) != "compatible" {
		t.Errorf("check: %q", out)
	}
	must(schemasCmd(t, url, "register", "--subject", "users-value", "--schema", withDefault))
	if out := must(schemasCmd(t, url, "get", "--subject", "users-value")); !strings.Contains(out, `"version": 2`) || !strings.Contains(out, "age") {
		t.Errorf("get latest: %q", out)
	}
	if out := must(schemasCmd(t, url, "get", "--id", "1")); !strings.Contains(out, "User") || strings.Contains(out, "age") {
		t.Errorf("get --id 1: %q", out)
	}
	if out := must(schemasCmd(t, url, "list")); strings.TrimSpace(out) != "users-value" {
		t.Errorf("list: %q", out)
	}
	must(schemasCmd(t, url, "config", "--subject", "users-value", "--set", "full"))
	if out := must(schemasCmd(t, url, "config", "--subject", "users-value")); !strings.Contains(out, "subject users-value compatibility FULL") {
		t.Errorf("config: %q", out)
	}
	if out := must(schemasCmd(t, url, "config")); !strings.Contains(out, "global compatibility BACKWARD") {
		t.Errorf("global config: %q", out)
	}
	if _, err := schemasCmd(t, url, "delete", "--subject", "users-value", "--permanent"); err == nil {
		t.Error("a permanent delete without a soft delete first succeeded")
	}
	if out := must(schemasCmd(t, url, "delete", "--subject", "users-value")); !strings.Contains(out, "[1 2]") {
		t.Errorf("delete: %q", out)
	}
	if out := must(schemasCmd(t, url, "list", "--deleted")); strings.TrimSpace(out) != "users-value" {
		t.Errorf("list --deleted: %q", out)
	}
	must(schemasCmd(t, url, "delete", "--subject", "users-value", "--permanent"))
	if out := must(schemasCmd(t, url, "list", "--deleted")); strings.TrimSpace(out) != "" {
		t.Errorf("list --deleted after a permanent delete: %q", out)
	}
	if _, err := schemasCmd(t, url, "get", "--subject", "nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("get of an unknown subject: %v", err)
	}
	if _, err := schemasCmd(t, url, "register", "--subject", "x"); err == nil {
		t.Error("register without a schema succeeded")
	}
}

// TestSchemasRegisterAndCheckRequireASubject: both commands refuse to run without --subject, before
// reaching any registry.
func TestSchemasRegisterAndCheckRequireASubject(t *testing.T) {
	for _, cmd := range []string{"register", "check"} {
		r := gregor(t, "", "schemas", cmd, "--registry-url", "http://127.0.0.1:1", "--schema", `"string"`)
		if r.exit == 0 || !strings.Contains(r.stderr, "--subject is required") {
			t.Errorf("schemas %s without --subject: exit %d, stderr %q", cmd, r.exit, r.stderr)
		}
	}
}
