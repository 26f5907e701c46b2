//lint:file-ignore ST1005 Kafka's KafkaConfig messages, verbatim where Kafka has one: users and tools match them

package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gregor-streams/gregor/broker/quorum"
)

// KRaft holds the settings of a node in a KRaft cluster. With process.roles unset, Validate makes the
// node the implicit single node (Implicit): process.roles=broker,controller with node.id the only
// voter, its controller listener internal (ImplicitControllerListener).
type KRaft struct {
	// ProcessRoles is process.roles: "broker", "controller", or both (both for the implicit single node).
	ProcessRoles []string
	// Implicit is true when process.roles was not set: the node is a one-voter quorum of its own,
	// whose controller listener is internal (never configured, never advertised).
	Implicit bool
	// Voters is controller.quorum.voters, sorted by node ID.
	Voters []quorum.Voter
	// ControllerListenerNames is controller.listener.names; the first is the one a controller serves.
	ControllerListenerNames []string
	// InterBrokerListenerName is inter.broker.listener.name: the listener replica fetchers connect to.
	InterBrokerListenerName string
	// ListenerSecurityProtocolMap is listener.security.protocol.map (listener name -> protocol).
	ListenerSecurityProtocolMap map[string]string

	BrokerHeartbeatIntervalMs int64 // broker.heartbeat.interval.ms
	BrokerSessionTimeoutMs    int64 // broker.session.timeout.ms

	MetadataLogMaxRecordBytesBetweenSnapshots int64  // metadata.log.max.record.bytes.between.snapshots
	MetadataLogMaxSnapshotIntervalMs          int64  // metadata.log.max.snapshot.interval.ms
	MetadataLogDir                            string // metadata.log.dir; empty: the first of log.dirs

	OffsetsTopicReplicationFactor       int16 // offsets.topic.replication.factor
	UncleanLeaderElectionEnable         bool  // unclean.leader.election.enable
	AutoLeaderRebalanceEnable           bool  // auto.leader.rebalance.enable
	LeaderImbalanceCheckIntervalSeconds int64 // leader.imbalance.check.interval.seconds (leaderbalance.go)
	LeaderImbalancePerBrokerPercentage  int   // leader.imbalance.per.broker.percentage (leaderbalance.go)

	ReplicaLagTimeMaxMs          int64 // replica.lag.time.max.ms
	ReplicaFetchMaxBytes         int   // replica.fetch.max.bytes
	ReplicaFetchMinBytes         int   // replica.fetch.min.bytes
	ReplicaFetchWaitMaxMs        int64 // replica.fetch.wait.max.ms
	ReplicaFetchBackoffMs        int64 // replica.fetch.backoff.ms
	ReplicaFetchResponseMaxBytes int   // replica.fetch.response.max.bytes
	ReplicaSocketTimeoutMs       int64 // replica.socket.timeout.ms
	NumReplicaFetchers           int   // num.replica.fetchers
}

// Roles of process.roles.
const (
	RoleBroker     = "broker"
	RoleController = "controller"
)

// securityProtocols are Kafka's SecurityProtocol names.
var securityProtocols = map[string]bool{"PLAINTEXT": true, "SSL": true, "SASL_PLAINTEXT": true, "SASL_SSL": true}

// defaultSecurityProtocolMap is Kafka's default listener.security.protocol.map.
const defaultSecurityProtocolMap = "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"

func boolKey(def string, set func(b *Broker, v bool)) brokerKey {
	return brokerKey{def: def, apply: func(b *Broker, v string) error {
		x, err := parseBool(v)
		if err == nil {
			set(b, x)
		}
		return err
	}}
}

func listKey(def string, set func(b *Broker, l []string)) brokerKey {
	return brokerKey{def: def, apply: func(b *Broker, v string) error {
		set(b, splitList(v))
		return nil
	}}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// kraftKeys are merged into brokerKeys by init.
var kraftKeys = map[string]brokerKey{
	"process.roles": {def: "", apply: func(b *Broker, v string) error {
		roles := splitList(v)
		seen := map[string]bool{}
		for _, r := range roles {
			if r != RoleBroker && r != RoleController {
				return fmt.Errorf("Unknown process role '%s' (only 'broker' and 'controller' are allowed roles)", r)
			}
			if seen[r] {
				return fmt.Errorf("Duplicate role names found in process.roles: %s", strings.Join(roles, ","))
			}
			seen[r] = true
		}
		b.KRaft.ProcessRoles = roles
		return nil
	}},
	quorum.VotersConfig: {def: "", apply: func(b *Broker, v string) (err error) {
		if strings.TrimSpace(v) == "" {
			return nil
		}
		b.KRaft.Voters, err = quorum.ParseVoters(v)
		return err
	}},
	"controller.listener.names": listKey("", func(b *Broker, l []string) { b.KRaft.ControllerListenerNames = l }),
	"inter.broker.listener.name": {def: "", apply: func(b *Broker, v string) error {
		b.KRaft.InterBrokerListenerName = strings.TrimSpace(v)
		return nil
	}},
	"listener.security.protocol.map": {def: defaultSecurityProtocolMap, apply: func(b *Broker, v string) error {
		m := map[string]string{}
		for _, pair := range splitList(v) {
			name, proto, ok := strings.Cut(pair, ":")
			name, proto = strings.TrimSpace(name), strings.ToUpper(strings.TrimSpace(proto))
			if !ok || name == "" {
				return fmt.Errorf("Invalid map entry %q: expected listener:protocol", pair)
			}
			if !securityProtocols[proto] {
				return fmt.Errorf("No enum constant org.apache.kafka.common.security.auth.SecurityProtocol.%s", proto)
			}
			if _, dup := m[name]; dup {
				return fmt.Errorf("Duplicate key %s in listener.security.protocol.map", name)
			}
			m[name] = proto
		}
		b.KRaft.ListenerSecurityProtocolMap = m
		return nil
	}},
	"broker.heartbeat.interval.ms": intKey("2000", func(b *Broker, n int64) { b.KRaft.BrokerHeartbeatIntervalMs = n }, 1),
	"broker.session.timeout.ms":    intKey("9000", func(b *Broker, n int64) { b.KRaft.BrokerSessionTimeoutMs = n }, 1),
	"metadata.log.max.record.bytes.between.snapshots": intKey("20971520", func(b *Broker, n int64) {
		b.KRaft.MetadataLogMaxRecordBytesBetweenSnapshots = n
	}, 1),
	"metadata.log.max.snapshot.interval.ms": intKey("3600000", func(b *Broker, n int64) { b.KRaft.MetadataLogMaxSnapshotIntervalMs = n }, 0),
	"metadata.log.dir": {def: "", apply: func(b *Broker, v string) error {
		b.KRaft.MetadataLogDir = strings.TrimSpace(v)
		return nil
	}},
	"offsets.topic.replication.factor": intKey("3", func(b *Broker, n int64) { b.KRaft.OffsetsTopicReplicationFactor = int16(n) }, 1),
	"unclean.leader.election.enable":   boolKey("false", func(b *Broker, v bool) { b.KRaft.UncleanLeaderElectionEnable = v }),
	"auto.leader.rebalance.enable":     boolKey("true", func(b *Broker, v bool) { b.KRaft.AutoLeaderRebalanceEnable = v }),
	"replica.lag.time.max.ms":          intKey("30000", func(b *Broker, n int64) { b.KRaft.ReplicaLagTimeMaxMs = n }, 1),
	"replica.fetch.max.bytes":          intKey("1048576", func(b *Broker, n int64) { b.KRaft.ReplicaFetchMaxBytes = int(n) }, 0),
	"replica.fetch.min.bytes":          intKey("1", func(b *Broker, n int64) { b.KRaft.ReplicaFetchMinBytes = int(n) }, 0),
	"replica.fetch.wait.max.ms":        intKey("500", func(b *Broker, n int64) { b.KRaft.ReplicaFetchWaitMaxMs = n }, 0),
	"replica.fetch.backoff.ms":         intKey("1000", func(b *Broker, n int64) { b.KRaft.ReplicaFetchBackoffMs = n }, 0),
	"replica.fetch.response.max.bytes": intKey("10485760", func(b *Broker, n int64) { b.KRaft.ReplicaFetchResponseMaxBytes = int(n) }, 0),
	"replica.socket.timeout.ms":        intKey("30000", func(b *Broker, n int64) { b.KRaft.ReplicaSocketTimeoutMs = n }, 1),
	"num.replica.fetchers":             intKey("1", func(b *Broker, n int64) { b.KRaft.NumReplicaFetchers = int(n) }, 1),
}

func init() {
	for k, v := range kraftKeys {
		brokerKeys[k] = v
	}
}

// HasRole reports whether process.roles contains role.
func (k *KRaft) HasRole(role string) bool { return slices.Contains(k.ProcessRoles, role) }

// Enabled reports whether the node has KRaft roles: always, once Validate ran (the implicit single
// node included).
func (k *KRaft) Enabled() bool { return len(k.ProcessRoles) > 0 }

// ImplicitControllerListener is the implicit single node's internal controller listener: loopback
// only, on a port the OS picks at every start. The broker rewrites the voter's address to the bound
// port before anything dials it.
//
// NB: a real listener, not an in-process shortcut, so the implicit node runs exactly the controller
// server, controller client and lifecycle code a cluster runs (one path, issue 10); port 0 on
// 127.0.0.1 can neither clash with a user's port nor be reached from another host.
var ImplicitControllerListener = Listener{Name: "CONTROLLER", Host: "127.0.0.1", Port: 0}

// MultiNode reports whether the node is one of several: more than one voter, or a broker-only or
// controller-only node.
func (k *KRaft) MultiNode() bool { return len(k.Voters) > 1 || len(k.ProcessRoles) == 1 }

// IsVoter reports whether id is among controller.quorum.voters.
func (k *KRaft) IsVoter(id int32) bool {
	return slices.ContainsFunc(k.Voters, func(v quorum.Voter) bool { return v.ID == id })
}

// ControllerListener returns the listener a controller serves: the first of listeners named in
// controller.listener.names.
func (b *Broker) ControllerListener() (Listener, bool) {
	if b.KRaft.Implicit {
		return ImplicitControllerListener, true
	}
	for _, l := range b.Listeners {
		if slices.Contains(b.KRaft.ControllerListenerNames, l.Name) {
			return l, true
		}
	}
	return Listener{}, false
}

// BrokerListeners returns the listeners that serve clients and replicas: every listener that is not
// a controller listener.
func (b *Broker) BrokerListeners() []Listener {
	var out []Listener
	for _, l := range b.Listeners {
		if !slices.Contains(b.KRaft.ControllerListenerNames, l.Name) {
			out = append(out, l)
		}
	}
	return out
}

// MetadataDir returns metadata.log.dir, or the first of log.dirs when it is unset (Kafka's rule).
func (b *Broker) MetadataDir() string {
	if b.KRaft.MetadataLogDir != "" {
		return b.KRaft.MetadataLogDir
	}
	if len(b.LogDirs) > 0 {
		return b.LogDirs[0]
	}
	return ""
}

// validateKRaft checks the KRaft settings together, as Kafka's KafkaConfig.validateValues does, and
// fills in derived defaults (the security protocol of controller listeners, inter.broker.listener.name).
// With process.roles unset it makes the node the implicit single node and checks nothing else.
func (b *Broker) validateKRaft() error {
	k := &b.KRaft
	if !k.Enabled() || k.Implicit {
		k.Implicit = true
		k.ProcessRoles = []string{RoleBroker, RoleController}
		k.Voters = []quorum.Voter{{ID: b.NodeID, Host: ImplicitControllerListener.Host, Port: ImplicitControllerListener.Port}}
		// NB: no controller.listener.names: every configured listener serves clients.
		k.ControllerListenerNames = nil
		// NB: one broker can hold one replica of __consumer_offsets: Kafka's single-node sample
		// server.properties sets 1 too. An explicit setting is kept (and refused at creation if > 1).
		if _, set := b.Raw["offsets.topic.replication.factor"]; !set {
			k.OffsetsTopicReplicationFactor = 1
		}
		return nil
	}
	if len(k.Voters) == 0 {
		return fmt.Errorf("If using process.roles, controller.quorum.voters must contain a parseable set of controllers.")
	}
	_, hasNodeID := b.Raw["node.id"]
	if _, hasBrokerID := b.Raw["broker.id"]; !hasNodeID && !hasBrokerID {
		return fmt.Errorf("Missing required configuration \"node.id\" which has no default value.")
	}
	if len(k.ControllerListenerNames) == 0 {
		return fmt.Errorf("controller.listener.names must contain at least one value when running KRaft with just the broker role")
	}
	listenerNames := map[string]bool{}
	for _, l := range b.Listeners {
		listenerNames[l.Name] = true
	}
	isController := k.HasRole(RoleController)
	isBroker := k.HasRole(RoleBroker)
	voter := k.IsVoter(b.NodeID)
	switch {
	case isController && !voter:
		return fmt.Errorf("If process.roles contains the 'controller' role, the node id %d must be included in the set of voters %s=%s",
			b.NodeID, quorum.VotersConfig, voterIDs(k.Voters))
	case !isController && voter:
		return fmt.Errorf("If process.roles contains just the 'broker' role, the node id %d must not be included in the set of voters %s=%s",
			b.NodeID, quorum.VotersConfig, voterIDs(k.Voters))
	}
	if isController {
		if _, ok := b.ControllerListener(); !ok {
			return fmt.Errorf("The listeners config must contain a listener named in controller.listener.names (%s) when process.roles contains the 'controller' role, got listeners=%s",
				strings.Join(k.ControllerListenerNames, ","), b.Raw["listeners"])
		}
	} else {
		for _, n := range k.ControllerListenerNames {
			if listenerNames[n] {
				return fmt.Errorf("The listeners config must not contain KRaft controller listeners from controller.listener.names when process.roles contains just the 'broker' role because Kafka Raft mode does not support such a configuration, got listener %s", n)
			}
		}
	}
	if !isBroker {
		for name := range listenerNames {
			if !slices.Contains(k.ControllerListenerNames, name) {
				return fmt.Errorf("The listeners config must only contain KRaft controller listeners from controller.listener.names when process.roles=controller, got listener %s", name)
			}
		}
	}
	for _, l := range b.AdvertisedListeners {
		if slices.Contains(k.ControllerListenerNames, l.Name) && !isController {
			return fmt.Errorf("The advertised.listeners config must not contain KRaft controller listeners from controller.listener.names when process.roles contains the broker role because Kafka clients that send requests via advertised listeners do not send requests to KRaft controllers -- they only send requests to KRaft brokers.")
		}
	}
	// NB: like Kafka, a controller listener missing from a listener.security.protocol.map left at its
	// default is PLAINTEXT; an explicit map must name it.
	_, explicitMap := b.Raw["listener.security.protocol.map"]
	for _, n := range k.ControllerListenerNames {
		if _, ok := k.ListenerSecurityProtocolMap[n]; !ok && !explicitMap {
			k.ListenerSecurityProtocolMap[n] = "PLAINTEXT"
		}
	}
	for _, l := range b.Listeners {
		if _, ok := k.ListenerSecurityProtocolMap[l.Name]; !ok {
			return fmt.Errorf("Listener with name %s defined in listeners not found in listener.security.protocol.map.", l.Name)
		}
	}
	if isBroker {
		advertised := b.AdvertisedListeners
		if len(advertised) == 0 {
			advertised = b.BrokerListeners()
		}
		if k.InterBrokerListenerName == "" {
			k.InterBrokerListenerName = "PLAINTEXT"
		}
		var names []string
		found := false
		for _, l := range advertised {
			names = append(names, l.Name)
			found = found || l.Name == k.InterBrokerListenerName
		}
		if !found {
			return fmt.Errorf("inter.broker.listener.name must be a listener name defined in advertised.listeners. The valid options based on currently configured listeners are %s",
				strings.Join(names, ","))
		}
		if slices.Contains(k.ControllerListenerNames, k.InterBrokerListenerName) {
			return fmt.Errorf("inter.broker.listener.name must not be a controller listener (controller.listener.names=%s)", strings.Join(k.ControllerListenerNames, ","))
		}
	}
	if k.BrokerHeartbeatIntervalMs >= k.BrokerSessionTimeoutMs {
		return fmt.Errorf("broker.heartbeat.interval.ms (%d) must be less than broker.session.timeout.ms (%d)", k.BrokerHeartbeatIntervalMs, k.BrokerSessionTimeoutMs)
	}
	return nil
}

func voterIDs(voters []quorum.Voter) string {
	ids := make([]int, 0, len(voters))
	for _, v := range voters {
		ids = append(ids, int(v.ID))
	}
	sort.Ints(ids)
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ",")
}
