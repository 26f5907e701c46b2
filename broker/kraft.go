package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
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
	voters := k.Voters
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
		if k.Implicit {
			// NB: the implicit node's one voter listens where the OS put it: everything that dials
			// the controller (client, lifecycle) is given the bound address.
			voters = []quorum.Voter{{ID: b.cfg.NodeID, Host: l.Host, Port: ln.Addr().(*net.TCPAddr).Port}}
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
		ctlCfg.MaxRecordsPerBatch = int(b.cfg.ControllerMaxRecordsPerBatch)
		ctlCfg.MaxBrokerPartitions = b.cfg.MaxBrokerPartitions
		kn.ctl, err = controller.StartServer(controller.ServerConfig{
			Listener:     ln,
			ListenerName: l.Name,
			Quorum: quorum.Config{
				NodeID:             b.cfg.NodeID,
				Voters:             voters,
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
		if !k.MultiNode() {
			// NB: the Manager's first registration would otherwise find no active controller and
			// back off (tens of milliseconds): a single node's start is every test's.
			if err := waitActive(ctx, kn.ctl.Node(), initialRegistrationTimeout); err != nil {
				return err
			}
		}
		if m := b.legacyRegistry; m != nil {
			if k.MultiNode() {
				b.logger.Warn("a previous release's topic registry is ignored on a node of several: only a single node imports it", "file", b.metaPath())
			} else if err := b.importLegacyRegistry(ctx, kn.ctl.Node(), m); err != nil {
				return err
			}
		}
	}
	if !k.HasRole(config.RoleBroker) {
		b.kraft = kn
		return nil
	}
	kn.pub = metadata.NewPublisher(metadata.Empty())
	if kn.client, err = lifecycle.NewControllerClient(voters, fmt.Sprintf("gregor-broker-%d", b.cfg.NodeID)); err != nil {
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
			NodeID: b.cfg.NodeID, ClusterID: b.clusterID, Voters: voters,
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
		Voters:            voters,
		Listeners:         advertised,
		Rack:              b.cfg.Rack,
		HeartbeatInterval: heartbeat,
		// NB: a single node skips the controlled shutdown, whose end fences the old registration:
		// naming the epoch of its clean stop is what lets it register again at once.
		PreviousBrokerEpoch: b.takePreviousBrokerEpoch(),
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
	if !k.MultiNode() {
		// NB: as Kafka's broker waits for its first unfencing before it enables request processing.
		// Only a single node waits here: a node of several needs its peers, which may start after it.
		if err := kn.waitUnfenced(ctx, b.cfg.NodeID, initialRegistrationTimeout); err != nil {
			b.kraft = nil // NB: the deferred close stops kn; Close must not stop it again
			return err
		}
	}
	return nil
}

// initialRegistrationTimeout is Kafka's initial.broker.registration.timeout.ms default: how long a
// single node's Start waits to be registered and unfenced by its own controller.
const initialRegistrationTimeout = 60 * time.Second

// waitUnfenced waits until the controller registered and unfenced this broker and the image applier
// applied an image in which it is.
func (kn *kraftNode) waitUnfenced(ctx context.Context, nodeID int32, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := kn.mgr.WaitFor(ctx, func(s lifecycle.State) bool { return s.BrokerEpoch >= 0 && !s.Fenced })
	if err != nil {
		return fmt.Errorf("broker not unfenced by its controller within %v (state %+v): %w", timeout, st, err)
	}
	// NB: the controller unfenced the broker once its published image reached the registration: the
	// applier must have applied that far (a restart replays the whole log, and an early image of it
	// may already show this broker unfenced and leading). Metadata lists the image's usable brokers:
	// the first client must find this one, and (a single node's partitions have no other replica)
	// the leader of every partition.
	caughtUp := kn.pub.Current().Offset()
	if err := kn.applier.waitApplied(ctx, func(img *metadata.Image) bool {
		return img.Offset() >= caughtUp && slices.Contains(img.UsableBrokers(), nodeID) && leadsAll(img, nodeID)
	}); err != nil {
		return fmt.Errorf("broker unfenced but not the leader of every partition in an applied metadata image within %v: %w", timeout, err)
	}
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

// clientListeners are the listeners the Kafka-protocol server serves: every listener but the
// controller's (the controller server owns that one; the implicit single node's is never configured).
func (b *Broker) clientListeners() []config.Listener { return b.cfg.BrokerListeners() }

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
	errs = append(errs, kn.applier.close())
	if kn.client != nil {
		kn.client.Close()
	}
	if kn.ctl != nil {
		errs = append(errs, kn.ctl.Close())
	}
	return errors.Join(errs...)
}

// MetadataImage returns the newest metadata image this broker has published, or nil on a
// controller-only node (or before Start).
func (b *Broker) MetadataImage() *metadata.Image {
	if b.kraft == nil || b.kraft.pub == nil {
		return nil
	}
	return b.kraft.pub.Current()
}

// LifecycleState returns what the controller last said of this KRaft broker's registration, and
// false on a controller-only node (or before Start).
func (b *Broker) LifecycleState() (lifecycle.State, bool) {
	if b.kraft == nil || b.kraft.mgr == nil {
		return lifecycle.State{}, false
	}
	return b.kraft.mgr.State(), true
}

// leadsAll reports whether node leads every partition img assigns it.
func leadsAll(img *metadata.Image, node int32) bool {
	for _, t := range img.Topics() {
		for _, p := range t.Partitions() {
			if p.Leader != node && slices.Contains(p.Replicas, node) {
				return false
			}
		}
	}
	return true
}

// waitActive waits until the node's own controller is active (it leads the quorum and applied
// everything before its term), polling: it takes a few milliseconds on a single node.
func waitActive(ctx context.Context, ctl *controller.Node, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for !ctl.Active() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the controller did not become active within %v: %w", timeout, ctx.Err())
		case <-ctl.Done():
			return fmt.Errorf("the controller stopped before it became active")
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}
