package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// combined is a three-node KRaft combined node's config, as Kafka's config/server.properties has it.
func combined() map[string]string {
	return map[string]string{
		"process.roles":             "broker,controller",
		"node.id":                   "1",
		"controller.quorum.voters":  "1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097",
		"listeners":                 "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
		"controller.listener.names": "CONTROLLER",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

func TestKRaftDefaultsAreKafkas(t *testing.T) {
	b, ignored, err := Parse(combined(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ignored) != 0 {
		t.Fatalf("KRaft keys reported as ignored: %v", ignored)
	}
	k := b.KRaft
	if !k.HasRole(RoleBroker) || !k.HasRole(RoleController) || !k.MultiNode() || len(k.Voters) != 3 {
		t.Fatalf("roles/voters: %+v", k)
	}
	if k.BrokerHeartbeatIntervalMs != 2000 || k.BrokerSessionTimeoutMs != 9000 ||
		k.MetadataLogMaxRecordBytesBetweenSnapshots != 20<<20 || k.MetadataLogMaxSnapshotIntervalMs != 3600_000 ||
		k.OffsetsTopicReplicationFactor != 3 || k.UncleanLeaderElectionEnable || !k.AutoLeaderRebalanceEnable ||
		k.ReplicaLagTimeMaxMs != 30000 || k.ReplicaFetchMaxBytes != 1<<20 || k.ReplicaFetchWaitMaxMs != 500 ||
		k.ReplicaFetchMinBytes != 1 || k.ReplicaFetchBackoffMs != 1000 || k.ReplicaFetchResponseMaxBytes != 10<<20 {
		t.Fatalf("defaults: %+v", k)
	}
	if k.InterBrokerListenerName != "PLAINTEXT" || k.ListenerSecurityProtocolMap["CONTROLLER"] != "PLAINTEXT" {
		t.Fatalf("derived: inter.broker %q, map %v", k.InterBrokerListenerName, k.ListenerSecurityProtocolMap)
	}
	if l, ok := b.ControllerListener(); !ok || l.Port != 9093 {
		t.Fatalf("controller listener %v %v", l, ok)
	}
	if bl := b.BrokerListeners(); len(bl) != 1 || bl[0].Port != 9092 {
		t.Fatalf("broker listeners %v", bl)
	}
	if b.MetadataDir() != b.LogDirs[0] {
		t.Fatalf("metadata.log.dir defaults to the first log dir, got %q", b.MetadataDir())
	}
}

func TestNoProcessRolesIsTheImplicitOneVoterNode(t *testing.T) {
	b, _, err := Parse(map[string]string{"node.id": "7", "controller.listener.names": "CONTROLLER", "listeners": "CONTROLLER://127.0.0.1:9092", "unclean.leader.election.enable": "true"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := b.KRaft
	if !k.Implicit || !k.HasRole(RoleBroker) || !k.HasRole(RoleController) || k.MultiNode() || !k.UncleanLeaderElectionEnable {
		t.Fatalf("%+v", k)
	}
	if k.OffsetsTopicReplicationFactor != 1 {
		t.Fatalf("offsets.topic.replication.factor %d, want 1 on a single node", k.OffsetsTopicReplicationFactor)
	}
	if len(k.Voters) != 1 || k.Voters[0].ID != 7 || k.Voters[0].Host != "127.0.0.1" {
		t.Fatalf("voters %+v, want only node 7 on loopback", k.Voters)
	}
	// A user's listener is never taken for the internal controller listener, whatever its name.
	if got := b.BrokerListeners(); len(got) != 1 || got[0].Port != 9092 {
		t.Fatalf("broker listeners %v", got)
	}
	if l, ok := b.ControllerListener(); !ok || l != ImplicitControllerListener {
		t.Fatalf("controller listener %v %v", l, ok)
	}
}

func TestKRaftValidationErrorsAreKafkas(t *testing.T) {
	cases := []struct {
		name  string
		props map[string]string
		want  string
	}{
		{"unknown role", with(combined(), "process.roles", "broker,zookeeper"), "Unknown process role 'zookeeper'"},
		{"duplicate role", with(combined(), "process.roles", "broker,broker"), "Duplicate role names found in process.roles"},
		{"no voters", with(combined(), "controller.quorum.voters", ""), "controller.quorum.voters must contain a parseable set of controllers"},
		{"bad voters", with(combined(), "controller.quorum.voters", "1-localhost:9093"), "Each entry should be in the form `{id}@{host}:{port}`"},
		{"no node.id", with(combined(), "node.id", ""), `Missing required configuration "node.id"`},
		{"controller not a voter", with(combined(), "node.id", "4"), "the node id 4 must be included in the set of voters controller.quorum.voters=1,2,3"},
		{"broker-only voter", with(combined(), "process.roles", "broker", "listeners", "PLAINTEXT://127.0.0.1:9092"), "If process.roles contains just the 'broker' role, the node id 1 must not be included"},
		{"no controller listener names", with(combined(), "controller.listener.names", ""), "controller.listener.names must contain at least one value"},
		{"controller role without controller listener", with(combined(), "listeners", "PLAINTEXT://127.0.0.1:9092"), "The listeners config must contain a listener named in controller.listener.names (CONTROLLER)"},
		{"broker-only with controller listener", with(combined(), "process.roles", "broker", "node.id", "4"), "must not contain KRaft controller listeners"},
		{"controller-only with broker listener", with(combined(), "process.roles", "controller"), "must only contain KRaft controller listeners from controller.listener.names when process.roles=controller, got listener PLAINTEXT"},
		{"inter.broker listener missing", with(combined(), "inter.broker.listener.name", "INTERNAL"), "inter.broker.listener.name must be a listener name defined in advertised.listeners. The valid options based on currently configured listeners are PLAINTEXT"},
		{"explicit map without listener", with(combined(), "listener.security.protocol.map", "PLAINTEXT:PLAINTEXT"), "Listener with name CONTROLLER defined in listeners not found in listener.security.protocol.map."},
		{"bad protocol", with(combined(), "listener.security.protocol.map", "PLAINTEXT:PLAIN"), "SecurityProtocol.PLAIN"},
		{"heartbeat over session", with(combined(), "broker.heartbeat.interval.ms", "9000"), "broker.heartbeat.interval.ms (9000) must be less than broker.session.timeout.ms (9000)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Parse(c.props, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestKRaftRolesThatAreValid(t *testing.T) {
	for name, props := range map[string]map[string]string{
		"broker only":     with(combined(), "process.roles", "broker", "node.id", "4", "listeners", "PLAINTEXT://127.0.0.1:9092"),
		"controller only": with(combined(), "process.roles", "controller", "listeners", "CONTROLLER://127.0.0.1:9093"),
		"one voter":       with(combined(), "controller.quorum.voters", "1@127.0.0.1:9093"),
		"named inter-broker listener": with(combined(), "listeners", "INTERNAL://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093",
			"listener.security.protocol.map", "INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT", "inter.broker.listener.name", "INTERNAL"),
	} {
		if _, _, err := Parse(props, nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMetaPropertiesRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	id := RandomClusterID()
	if err := ValidateClusterID(id); err != nil {
		t.Fatal(err)
	}
	if err := WriteMetaProperties(dir, MetaProperties{ClusterID: id, NodeID: 7}); err != nil {
		t.Fatal(err)
	}
	m, err := ReadMetaProperties(dir)
	if err != nil || m.ClusterID != id || m.NodeID != 7 {
		t.Fatalf("read %+v, %v", m, err)
	}
	for _, bad := range []string{"", "abc", "not-a-uuid-at-all-xxxxxx", id + "AA"} {
		if ValidateClusterID(bad) == nil {
			t.Errorf("cluster ID %q accepted", bad)
		}
	}
}

func TestCheckFormatted(t *testing.T) {
	dir := t.TempDir()
	b, _, err := Parse(with(combined(), "log.dirs", dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CheckFormatted(); !errors.Is(err, ErrNotFormatted) || !strings.Contains(err.Error(), "gregor storage format") {
		t.Fatalf("multi-node config on an unformatted dir: %v", err)
	}
	single, _, err := Parse(with(combined(), "log.dirs", dir, "controller.quorum.voters", "1@127.0.0.1:9093"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := single.CheckFormatted(); err != nil || id != "" {
		t.Fatalf("single combined node on an unformatted dir: %q %v", id, err)
	}
	id := RandomClusterID()
	if err := WriteMetaProperties(dir, MetaProperties{ClusterID: id, NodeID: 1}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.CheckFormatted(); err != nil || got != id {
		t.Fatalf("formatted: %q %v", got, err)
	}
	other, _, _ := Parse(with(combined(), "log.dirs", dir, "node.id", "2"), nil)
	if _, err := other.CheckFormatted(); err == nil || !strings.Contains(err.Error(), "Stored node id 1 doesn't match previous node id 2") {
		t.Fatalf("another node's dir: %v", err)
	}
}
