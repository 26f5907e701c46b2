package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkConfig runs the binary's command line in-process on a properties file holding text.
func checkConfig(t *testing.T, command, text string) (code int, stdout, stderr, path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "x.properties")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code = run([]string{command, "--check-config", path}, nil, &out, &errOut)
	return code, out.String(), errOut.String(), path
}

func TestServerCheckConfigPrintsEffectiveSettings(t *testing.T) {
	code, out, errOut, path := checkConfig(t, "server", "node.id=7\nlog.retention.hours=24\n")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, line := range []string{
		path + ": valid broker config. Effective values:\n",
		"\tnode.id = 7\n",
		"\tlog.retention.hours = 24\n",
		"\tauto.create.topics.enable = true\n", // a default
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

func TestServerCheckConfigFailsNamingTheKey(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"log.retention.hourz=1\n", `: unknown config key "log.retention.hourz"` + "\n"},
		{"log.retention.hours=abc\n", `: config log.retention.hours: expected an integer, got "abc"` + "\n"},
		{"schema.registry.port=1\n", `: unknown config key "schema.registry.port" (schema registry keys: schema.registry.listener, schema.registry.topic, schema.registry.group.id)` + "\n"},
	} {
		code, out, errOut, path := checkConfig(t, "server", tc.text)
		if want := "error: " + path + tc.want; code != 1 || errOut != want || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1, stderr %q", tc.text, code, out, errOut, want)
		}
	}
}

func TestConnectCheckConfigPrintsEffectiveSettings(t *testing.T) {
	code, out, errOut, path := checkConfig(t, "connect", "bootstrap.servers=b:9092\noffset.storage.file.filename=/var/lib/x.offsets\nconsumer.sasl.jaas.config=secret stuff\nproducer.ssl.key.password=pw\n")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := path + `: valid standalone worker config. Effective values:
	bootstrap.servers = b:9092
	consumer.sasl.jaas.config = [hidden]
	key.converter = org.apache.kafka.connect.json.JsonConverter
	listeners = http://127.0.0.1:8083
	offset.flush.interval.ms = 60000
	offset.flush.timeout.ms = 5000
	offset.storage.file.filename = /var/lib/x.offsets
	producer.ssl.key.password = [hidden]
	value.converter = org.apache.kafka.connect.json.JsonConverter
`
	if out != want {
		t.Errorf("stdout\n%s\nwant\n%s", out, want)
	}

	code, out, errOut, _ = checkConfig(t, "connect", "group.id=g\nconfig.storage.topic=c\noffset.storage.topic=o\nstatus.storage.topic=s\nsession.timeout.ms=30000\n")
	if code != 0 || !strings.Contains(out, ": valid distributed worker config. Effective values:\n") ||
		!strings.Contains(out, "\tsession.timeout.ms = 30000\n") || !strings.Contains(out, "\toffset.storage.partitions = 25\n") {
		t.Errorf("distributed: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestConnectCheckConfigFailsNamingTheKey(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"bootstrap.servers=b:9092\n", ": connect: invalid config: offset.storage.file.filename is required in standalone mode\n"},
		{"offset.storage.file.filename=/x\noffset.flush.interval.ms=soon\n", `: connect: invalid config: offset.flush.interval.ms: "soon" is not a positive number of milliseconds` + "\n"},
		{"group.id=g\nconfig.storage.topic=c\noffset.storage.topic=o\n", ": connect: invalid config: status.storage.topic is required in distributed mode\n"},
	} {
		code, out, errOut, path := checkConfig(t, "connect", tc.text)
		if want := "error: " + path + tc.want; code != 1 || errOut != want || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1, stderr %q", tc.text, code, out, errOut, want)
		}
	}
}

// TestCheckConfigAcceptsEveryShippedPropertiesFile runs the binary's --check-config on every
// properties file under deploy/ and examples/: server*.properties as a broker's, connect*.properties
// as a Connect worker's (others, such as mm2.properties for `gregor mirror`, are not the two
// commands' files). NB: it lives here, not in deploy/, because package main cannot be imported and
// calling the command in-process costs nothing where building the binary would cost seconds.
func TestCheckConfigAcceptsEveryShippedPropertiesFile(t *testing.T) {
	var files []string
	for _, dir := range []string{"../../deploy", "../../examples"} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".properties") {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) < 4 {
		t.Fatalf("found only %v", files)
	}
	for _, path := range files {
		var command string
		switch base := filepath.Base(path); {
		case strings.HasPrefix(base, "server"):
			command = "server"
		case strings.HasPrefix(base, "connect"):
			command = "connect"
		default:
			t.Logf("%s: neither a broker's nor a worker's config; not checked", path)
			continue
		}
		var out, errOut bytes.Buffer
		if code := run([]string{command, "--check-config", path}, nil, &out, &errOut); code != 0 || !strings.Contains(out.String(), ": valid ") {
			t.Errorf("gregor %s --check-config %s: exit %d, stderr %q", command, path, code, errOut.String())
		}
	}
}
