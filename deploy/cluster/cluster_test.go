// Package cluster_test checks the three-node cluster files in deploy/cluster: every node's
// properties parse as the binary reads them, the nodes agree on the quorum, and compose.yml runs
// each node with its file, port and volume.
package cluster_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/broker/config"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNodeConfigsParseAndAgreeOnTheQuorum(t *testing.T) {
	var voters string
	for id := 1; id <= 3; id++ {
		name := fmt.Sprintf("node%d.properties", id)
		props, err := config.ReadProperties(strings.NewReader(read(t, name)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cfg, ignored, err := config.Parse(props, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(ignored) > 0 {
			t.Errorf("%s: keys accepted but ignored: %v", name, ignored)
		}
		if cfg.NodeID != int32(id) || !cfg.KRaft.HasRole(config.RoleBroker) || !cfg.KRaft.HasRole(config.RoleController) {
			t.Errorf("%s: node.id %d, roles %v", name, cfg.NodeID, cfg.KRaft.ProcessRoles)
		}
		if voters == "" {
			voters = props["controller.quorum.voters"]
		} else if props["controller.quorum.voters"] != voters {
			t.Errorf("%s: voters %q, node1's %q", name, props["controller.quorum.voters"], voters)
		}
		if want := fmt.Sprintf("PLAINTEXT://node%d:%d9092", id, id); props["advertised.listeners"] != want {
			t.Errorf("%s: advertised.listeners %q, want %q", name, props["advertised.listeners"], want)
		}
		if cfg.DefaultReplicationFactor != 3 || props["min.insync.replicas"] != "2" {
			t.Errorf("%s: replication factor %d, min.insync.replicas %s", name, cfg.DefaultReplicationFactor, props["min.insync.replicas"])
		}
	}
}

func TestComposeRunsEachNodeWithItsFilePortAndVolume(t *testing.T) {
	compose := read(t, "compose.yml")
	for id := 1; id <= 3; id++ {
		for _, want := range []string{
			fmt.Sprintf(`"-c", "/etc/gregor/cluster/node%d.properties"`, id),
			fmt.Sprintf(`["server", "--config", "/etc/gregor/cluster/node%d.properties"]`, id),
			fmt.Sprintf(`ports: ["%d9092:%d9092"]`, id, id),
			fmt.Sprintf(`"node%d-data:/var/lib/gregor"`, id),
			fmt.Sprintf(`"127.0.0.1:%d9092"]`, id),
			fmt.Sprintf("\n  node%d-data:\n", id),
		} {
			if !strings.Contains(compose, want) {
				t.Errorf("compose.yml lacks %s", want)
			}
		}
	}
	if n := len(regexp.MustCompile(`MziZiNfyx_W6hyAPOIOepw`).FindAllString(compose, -1)); n != 3 {
		t.Errorf("the three format services use %d default cluster IDs, want the same one thrice", n)
	}
	if err := config.ValidateClusterID("MziZiNfyx_W6hyAPOIOepw"); err != nil {
		t.Error(err)
	}
}
