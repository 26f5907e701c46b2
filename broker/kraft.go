package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/broker/controller"
	"github.com/gregor-streams/gregor/broker/lifecycle"
	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/broker/quorum"
)

// kraftNode is the cluster side of a node with process.roles set (see broker/lifecycle's package doc,
// "Wiring a broker"): the controller server for the controller role; for the broker role the metadata
// Publisher fed by a Follower, the lifecycle Manager, and the client that forwards admin requests.
// Fields are set once by startKRaft and read-only after.
type kraftNode struct {
	ctl      *controller.Server // nil without the controller role
	pub      *metadata.Publisher
	follower *lifecycle.Follower
	mgr      *lifecycle.Manager
	client   *lifecycle.ControllerClient
	applier  *imageApplier // applies each image to the partitions assigned here
	unsub    func()
}

// startKRaft starts the node's cluster side; advertised are the broker listeners' endpoints. On error
// everything it started is stopped.
func (b *Broker) startKRaft(ctx context.Context, advertised []metadata.EndPoint) (err error) {
	k := &b.cfg.KRaft
	kn := &kraftNode{}
	defer func() {
		if err != nil {
			kn.close()
		}
	}()
	if k.HasRole(config.RoleController) {
		l, _ := b.cfg.ControllerListener() // NB: config validation guarantees it for this role.
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", l.Addr())
		if err != nil {
			return fmt.Errorf("controller listener %s: %w", l, err)
		}
		ctlCfg := controller.DefaultConfig()
		ctlCfg.ClusterID = b.clusterID
		ctlCfg.SessionTimeout = time.Duration(k.BrokerSessionTimeoutMs) * time.Millisecond
		ctlCfg.DefaultReplicationFactor = b.cfg.DefaultReplicationFactor
		ctlCfg.DefaultNumPartitions = b.cfg.NumPartitions
		ctlCfg.UncleanLeaderElection = k.UncleanLeaderElectionEnable
		ctlCfg.AutoLeaderRebalance = k.AutoLeaderRebalanceEnable
		ctlCfg.LeaderImbalanceCheckInterval = time.Duration(k.LeaderImbalanceCheckIntervalSeconds) * time.Second
		ctlCfg.LeaderImbalancePerBroker = k.LeaderImbalancePerBrokerPercentage
		kn.ctl, err = controller.StartServer(controller.ServerConfig{
			Listener:     ln,
			ListenerName: l.Name,
			Quorum: quorum.Config{
				NodeID:             b.cfg.NodeID,
				Voters:             k.Voters,
				Dir:                filepath.Join(b.cfg.MetadataDir(), quorum.MetadataDirName),
				SnapshotAfterBytes: k.MetadataLogMaxRecordBytesBetweenSnapshots,
				SnapshotInterval:   time.Duration(k.MetadataLogMaxSnapshotIntervalMs) * time.Millisecond,
			},
			Node:            controller.NodeConfig{Controller: ctlCfg, Logger: b.logger.With("component", "controller")},
			MaxRequestBytes: b.cfg.SocketRequestMaxBytes,
			Logger:          b.logger.With("component", "controller"),
		})
		if err != nil {
			return fmt.Errorf("controller: %w", err)
		}
		b.logger.Info("controller listening", "listener", l.Name, "addr", kn.ctl.Addr().String())
	}
	if !k.HasRole(config.RoleBroker) {
		b.kraft = kn
		return nil
	}
	kn.pub = metadata.NewPublisher(metadata.Empty())
	if kn.client, err = lifecycle.NewControllerClient(k.Voters, fmt.Sprintf("gregor-broker-%d", b.cfg.NodeID)); err != nil {
		return fmt.Errorf("controller client: %w", err)
	}
	// NB: subscribers subscribe here, before the Follower starts, so they see every image.
	kn.applier = newImageApplier(b, kn.pub, kn.client)
	_, kn.unsub = kn.pub.Subscribe("partitions", kn.applier.onUpdate)
	b.observeImages(kn.pub)
	if kn.ctl != nil {
		kn.follower = lifecycle.FollowLocal(kn.ctl.Quorum(), kn.pub, b.logger.With("component", "metadata-follower"))
	} else {
		kn.follower, err = lifecycle.FollowRemote(lifecycle.RemoteConfig{
			NodeID: b.cfg.NodeID, ClusterID: b.clusterID, Voters: k.Voters,
			Logger: b.logger.With("component", "metadata-follower"),
		}, kn.pub)
		if err != nil {
			return fmt.Errorf("metadata follower: %w", err)
		}
	}
	pub := kn.pub
	heartbeat := time.Duration(k.BrokerHeartbeatIntervalMs) * time.Millisecond
	kn.mgr, err = lifecycle.Start(lifecycle.Config{
		NodeID:            b.cfg.NodeID,
		ClusterID:         b.clusterID,
		Voters:            k.Voters,
		Listeners:         advertised,
		Rack:              b.cfg.Rack,
		HeartbeatInterval: heartbeat,
		// NB: a new active controller starts every broker's session when it activates. A broker
		// whose heartbeats went to the dead controller must find the new one well within
		// broker.session.timeout.ms, or the controller fences a healthy broker (partition leaders
		// included) on a controller failover: retries are never further apart than heartbeats.
		MaxRetryBackoff: max(min(lifecycle.DefaultMaxRetryBackoff, heartbeat), lifecycle.DefaultRetryBackoff),
		MetadataOffset:  func() int64 { return pub.Current().Offset() },
		Logger:          b.logger.With("component", "lifecycle"),
	})
	if err != nil {
		return fmt.Errorf("broker lifecycle: %w", err)
	}
	kn.applier.mgr.Store(kn.mgr)
	b.kraft = kn
	return nil
}

// advertisedEndPoints returns the endpoints the broker registers: advertised.listeners if set, else
// the bound broker listeners (a wildcard host replaced by the hostname, as for Metadata).
func (b *Broker) advertisedEndPoints() []metadata.EndPoint {
	var out []metadata.EndPoint
	proto := func(name string) int16 { return securityProtocolID(b.cfg.KRaft.ListenerSecurityProtocolMap[name]) }
	if len(b.cfg.AdvertisedListeners) > 0 {
		for _, l := range b.cfg.AdvertisedListeners {
			out = append(out, metadata.EndPoint{Name: l.Name, Host: l.Host, Port: uint16(l.Port), SecurityProtocol: proto(l.Name)})
		}
		return out
	}
	for i, l := range b.clientListeners() {
		port := 0
		if ta, ok := b.addrs[i].(*net.TCPAddr); ok {
			port = ta.Port
		}
		out = append(out, metadata.EndPoint{Name: l.Name, Host: advertisedHost(l.Host), Port: uint16(port), SecurityProtocol: proto(l.Name)})
	}
	return out
}

// securityProtocolID is Kafka's SecurityProtocol id for a name.
func securityProtocolID(name string) int16 {
	switch name {
	case "SSL":
		return 1
	case "SASL_PLAINTEXT":
		return 2
	case "SASL_SSL":
		return 3
	}
	return 0 // PLAINTEXT
}

// clientListeners are the listeners the Kafka-protocol server serves: every listener on a legacy node,
// every listener but the controller's on a KRaft node (the controller server owns that one).
func (b *Broker) clientListeners() []config.Listener {
	if b.cfg.KRaft.Enabled() {
		return b.cfg.BrokerListeners()
	}
	return b.cfg.Listeners
}

// controlledShutdown asks the controller to move leadership away before the broker stops,
// bounded by broker.session.timeout.ms (after which the controller would fence the broker anyway).
func (kn *kraftNode) controlledShutdown(timeout time.Duration) error {
	if kn == nil || kn.mgr == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return kn.mgr.ControlledShutdown(ctx)
}

// close stops the Manager, the Follower, the image applier (closing its partitions' logs), the
// controller client and the controller server, in that order (lifecycle's doc). Safe on a partly started node.
func (kn *kraftNode) close() error {
	if kn == nil {
		return nil
	}
	var errs []error
	if kn.mgr != nil {
		errs = append(errs, kn.mgr.Close())
	}
	if kn.follower != nil {
		errs = append(errs, kn.follower.Close())
	}
	if kn.unsub != nil {
		kn.unsub()
	}
	kn.applier.close()
	if kn.client != nil {
		kn.client.Close()
	}
	if kn.ctl != nil {
		errs = append(errs, kn.ctl.Close())
	}
	return errors.Join(errs...)
}

// MetadataImage returns the newest metadata image this KRaft broker has published, or nil on a legacy
// single node or a controller-only node.
func (b *Broker) MetadataImage() *metadata.Image {
	if b.kraft == nil || b.kraft.pub == nil {
		return nil
	}
	return b.kraft.pub.Current()
}

// LifecycleState returns what the controller last said of this KRaft broker's registration, and
// false on a legacy single node or a controller-only node.
func (b *Broker) LifecycleState() (lifecycle.State, bool) {
	if b.kraft == nil || b.kraft.mgr == nil {
		return lifecycle.State{}, false
	}
	return b.kraft.mgr.State(), true
}
