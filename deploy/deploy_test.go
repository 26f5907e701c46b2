// Package deploy_test checks the deployment files in deploy/: every properties file parses with
// the loaders the binary uses, and the Dockerfile, compose file, systemd units and Kubernetes
// manifests agree with each other on files, ports, images and volumes. The binary's own
// --check-config runs on every properties file here and under examples/ in
// cmd/gregor's TestCheckConfigAcceptsEveryShippedPropertiesFile (package main cannot be imported).
package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/connect"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func properties(t *testing.T, name, text string) map[string]string {
	t.Helper()
	props, err := config.ReadProperties(strings.NewReader(text))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return props
}

func checkServer(t *testing.T, name, text string) {
	t.Helper()
	if _, ignored, err := config.Parse(properties(t, name, text), nil); err != nil {
		t.Errorf("%s: %v", name, err)
	} else if len(ignored) > 0 {
		t.Logf("%s: accepted but ignored: %v", name, ignored)
	}
}

func checkDistributed(t *testing.T, name, text string) {
	t.Helper()
	if _, err := connect.ParseDistributedConfig(properties(t, name, text)); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

// configMapFile is the block of a ConfigMap's data key (a "key: |" literal).
func configMapFile(t *testing.T, manifest, key string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(key) + `: \|\n((?:    .*\n)+)`).FindStringSubmatch(manifest)
	if m == nil {
		t.Fatalf("the ConfigMap has no %s", key)
	}
	return strings.ReplaceAll(m[1], "\n    ", "\n")[4:]
}

func TestPropertiesFilesParseAsTheBinaryReadsThem(t *testing.T) {
	checkServer(t, "server.properties", read(t, "server.properties"))
	if _, err := connect.ParseWorkerConfig(properties(t, "connect-standalone.properties", read(t, "connect-standalone.properties"))); err != nil {
		t.Errorf("connect-standalone.properties: %v", err)
	}
	checkDistributed(t, "connect-distributed.properties", read(t, "connect-distributed.properties"))
	checkDistributed(t, "compose/connect-distributed.properties", read(t, "compose/connect-distributed.properties"))
	cm := read(t, "kubernetes/configmap.yaml")
	checkServer(t, "configmap server.properties", configMapFile(t, cm, "server.properties"))
	checkDistributed(t, "configmap connect-distributed.properties", configMapFile(t, cm, "connect-distributed.properties"))
}

// TestPropertiesFilesRejectAnUnknownKey shows the check above can fail.
func TestPropertiesFilesRejectAnUnknownKey(t *testing.T) {
	if _, _, err := config.Parse(properties(t, "x", read(t, "server.properties")+"\nlog.retention.hourz=1\n"), nil); err == nil || !strings.Contains(err.Error(), "log.retention.hourz") {
		t.Fatalf("a misspelt key was accepted: %v", err)
	}
}

func TestDockerfileCopiesFilesThatExistAndRunsAsNonRoot(t *testing.T) {
	df := read(t, "Dockerfile")
	for _, m := range regexp.MustCompile(`(?m)^COPY (deploy/\S+(?: deploy/\S+)*|examples/\S+) `).FindAllStringSubmatch(df, -1) {
		for _, f := range strings.Fields(m[1]) {
			if _, err := os.Stat(filepath.Join("..", f)); err != nil {
				t.Errorf("Dockerfile copies %s: %v", f, err)
			}
		}
	}
	for _, want := range []string{"USER 65532", "VOLUME /var/lib/gregor", "EXPOSE 9092 8083", "HEALTHCHECK", "CGO_ENABLED=0"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

func TestComposeServicesUseDeclaredVolumesAndTheImageTheyBuild(t *testing.T) {
	compose := read(t, "docker-compose.yml")
	top := compose[strings.Index(compose, "\nvolumes:\n"):]
	declared := regexp.MustCompile(`(?m)^  ([a-z-]+):$`).FindAllStringSubmatch(top, -1)
	var names []string
	for _, d := range declared {
		names = append(names, d[1])
	}
	mounts := strings.Join(regexp.MustCompile(`(?m)^    volumes: \[.*\]$`).FindAllString(compose, -1), "\n")
	for _, m := range regexp.MustCompile(`"([a-z][a-z-]*):/`).FindAllStringSubmatch(mounts, -1) {
		if !slices.Contains(names, m[1]) {
			t.Errorf("compose mounts volume %s, not declared (declared: %v)", m[1], names)
		}
	}
	for _, m := range regexp.MustCompile(`"\./([^:"]+):`).FindAllStringSubmatch(compose, -1) {
		if _, err := os.Stat(m[1]); err != nil {
			t.Errorf("compose mounts ./%s: %v", m[1], err)
		}
	}
	if !strings.Contains(compose, "image: gregor:latest") || !strings.Contains(compose, "dockerfile: deploy/Dockerfile") {
		t.Error("compose does not build and use gregor:latest from deploy/Dockerfile")
	}
	if !strings.Contains(compose, "wal_level=logical") {
		t.Error("compose's Postgres lacks wal_level=logical: the CDC source needs it")
	}
	if !strings.Contains(read(t, "compose/connect-distributed.properties"), "bootstrap.servers=broker:9092") {
		t.Error("compose's Connect worker does not reach the broker service")
	}
}

func TestSystemdUnitsRunTheConfigsShippedHere(t *testing.T) {
	for unit, cfg := range map[string]string{"systemd/gregor.service": "server.properties", "systemd/gregor-connect.service": "connect-distributed.properties"} {
		u := read(t, unit)
		for _, want := range []string{"ExecStart=/usr/local/bin/gregor ", "/etc/gregor/" + cfg, "Restart=on-failure", "LimitNOFILE=", "NoNewPrivileges=yes", "ProtectSystem=strict", "[Install]"} {
			if !strings.Contains(u, want) {
				t.Errorf("%s lacks %q", unit, want)
			}
		}
	}
}

func TestKubernetesManifestsAgreeOnPortsImagesAndConfig(t *testing.T) {
	cm := read(t, "kubernetes/configmap.yaml")
	for _, f := range []string{"kubernetes/broker.yaml", "kubernetes/connect.yaml"} {
		m := read(t, f)
		if !strings.Contains(m, "image: gregor:latest") {
			t.Errorf("%s: not the image deploy/Dockerfile builds", f)
		}
		if !strings.Contains(m, "kind: PodDisruptionBudget") {
			t.Errorf("%s: no PodDisruptionBudget", f)
		}
		for _, c := range regexp.MustCompile(`configMap: \{name: ([a-z-]+)\}`).FindAllStringSubmatch(m, -1) {
			if !strings.Contains(cm, "name: "+c[1]+"\n") {
				t.Errorf("%s mounts ConfigMap %s, which configmap.yaml does not define", f, c[1])
			}
		}
		for _, c := range regexp.MustCompile(`/etc/gregor/([a-z-]+\.properties)`).FindAllStringSubmatch(m, -1) {
			configMapFile(t, cm, c[1])
		}
		targets := regexp.MustCompile(`targetPort: (\d+)`).FindAllStringSubmatch(m, -1)
		for _, p := range targets {
			if !strings.Contains(m, "containerPort: "+p[1]) {
				t.Errorf("%s: the Service targets port %s, which no container opens", f, p[1])
			}
		}
		if len(targets) == 0 {
			t.Errorf("%s: no Service port", f)
		}
	}
	broker := read(t, "kubernetes/broker.yaml")
	for _, want := range []string{"kind: StatefulSet", "clusterIP: None", "serviceName: gregor", "volumeClaimTemplates"} {
		if !strings.Contains(broker, want) {
			t.Errorf("broker.yaml lacks %q", want)
		}
	}
	if !strings.Contains(configMapFile(t, cm, "connect-distributed.properties"), "gregor-0.gregor.") {
		t.Error("Connect's bootstrap.servers does not name the StatefulSet's headless Service")
	}
}
