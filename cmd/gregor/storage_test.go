package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/broker/config"
)

// TestStorageFormatWritesMetaPropertiesInEveryDir: `gregor storage random-uuid` then `gregor storage
// format -t ID -c FILE` writes Kafka's meta.properties (version=1, cluster.id, node.id) in every log dir
// and in metadata.log.dir; formatting again is refused unless --ignore-formatted, and a legacy config
// (no process.roles) is refused.
func TestStorageFormatWritesMetaPropertiesInEveryDir(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"storage", "random-uuid"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("random-uuid: exit %d: %s", code, errOut.String())
	}
	id := strings.TrimSpace(out.String())
	if err := config.ValidateClusterID(id); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "meta")}
	props := filepath.Join(root, "server.properties")
	writeStorageFile(t, props, "process.roles=broker,controller\nnode.id=2\n"+
		"controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097\n"+
		"listeners=PLAINTEXT://127.0.0.1:9094,CONTROLLER://127.0.0.1:9095\ncontroller.listener.names=CONTROLLER\n"+
		"log.dirs="+dirs[0]+","+dirs[1]+"\nmetadata.log.dir="+dirs[2]+"\n")

	out.Reset()
	if code := run([]string{"storage", "format", "-t", id, "-c", props}, nil, &out, &errOut); code != 0 {
		t.Fatalf("format: exit %d: %s", code, errOut.String())
	}
	for _, d := range dirs {
		body, err := os.ReadFile(filepath.Join(d, "meta.properties"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"version=1\n", "cluster.id=" + id + "\n", "node.id=2\n"} {
			if !strings.Contains(string(body), want) {
				t.Fatalf("%s/meta.properties lacks %q:\n%s", d, want, body)
			}
		}
	}
	errOut.Reset()
	if code := run([]string{"storage", "format", "--cluster-id", id, "--config", props}, nil, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "already formatted. Use --ignore-formatted") {
		t.Fatalf("second format: exit %d: %s", code, errOut.String())
	}
	out.Reset()
	if code := run([]string{"storage", "format", "-g", "-t", id, "-c", props}, nil, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "All of the log directories are already formatted.") {
		t.Fatalf("format -g: exit %d: %s %s", code, out.String(), errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"storage", "format", "-t", "not-an-id", "-c", props}, nil, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "does not appear to be a valid UUID") {
		t.Fatalf("bad id: exit %d: %s", code, errOut.String())
	}
	legacy := filepath.Join(root, "legacy.properties")
	writeStorageFile(t, legacy, "log.dirs="+filepath.Join(root, "legacy")+"\n")
	errOut.Reset()
	if code := run([]string{"storage", "format", "-t", id, "-c", legacy}, nil, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "process.roles is not set") {
		t.Fatalf("legacy config: exit %d: %s", code, errOut.String())
	}
}

func writeStorageFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
