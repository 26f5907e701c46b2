// Package lifecycle is the broker side of the cluster: a broker's standing with the controller
// (registration, heartbeats, fencing, controlled shutdown) and the follower that turns the committed
// metadata log into the images the broker acts on.
//
// # Manager (Kafka's BrokerLifecycleManager)
//
// Start generates the process's incarnation ID (a random UUID, as Kafka does), then one goroutine:
//
//   - registers with the active controller (BrokerRegistration with node.id, cluster.id, incarnation,
//     advertised listeners, rack). The active controller is found among controller.quorum.voters:
//     when it is not known (at start, after NOT_CONTROLLER, or after the voter could not be reached
//     within the request timeout) every voter is asked at once for the quorum leader (DescribeQuorum)
//     and the answer with the highest leader epoch is followed, skipping stale hints that name a
//     voter found unreachable in that epoch. While searching, attempts repeat every RetryBackoff (at
//     most a quarter of the heartbeat interval), so a new active controller hears from every live
//     broker well within broker.session.timeout.ms; other failures retry with exponential backoff
//     and jitter (RetryBackoff..MaxRetryBackoff).
//   - heartbeats every broker.heartbeat.interval.ms (a quarter of it while fenced or shutting down,
//     every 10 ms until the controller first unfenced it, as Kafka's broker in STARTING),
//     carrying the broker epoch and CurrentMetadataOffset (Config.MetadataOffset: the offset of the
//     newest image the broker published). The reply tells fenced/unfenced: a new broker is fenced until
//     its offset reaches its registration's. STALE_BROKER_EPOCH or BROKER_ID_NOT_REGISTERED registers
//     again.
//   - ControlledShutdown sets WantShutDown on the heartbeats and waits (bounded by its context) for the
//     controller's ShouldShutDown, which comes once the broker leads nothing and has seen that change.
//     Heartbeats stop then.
//
// ControllerClient is the same search and retry for any controller request: the admin requests a
// broker forwards, its partition leaders' AlterPartition, AllocateProducerIds.
//
// A registration refused for good (INCONSISTENT_CLUSTER_ID, INVALID_REQUEST, UNSUPPORTED_VERSION) stops
// the Manager with Err set, as it stops Kafka's broker; other refusals (DUPLICATE_BROKER_REGISTRATION
// while the previous incarnation's session lives) are retried.
//
// State / WaitFor expose what the controller last said. Close stops heartbeating (a crash, as far as
// the controller can tell: it fences the broker after broker.session.timeout.ms).
//
// # Follower (the metadata loader's feed)
//
// A Follower is one goroutine handing each committed batch of the metadata log to a metadata.Loader,
// which publishes an image per batch on the broker's metadata.Publisher, in log order, starting from
// the Publisher's current image. A batch it cannot apply stops it (Err): the broker must stop rather
// than serve a guess.
//
//   - FollowLocal, for combined nodes (process.roles=broker,controller), reads the local quorum voter:
//     ReadCommitted from the image's offset + 1, LatestSnapshot when the log it needs was compacted,
//     WaitCommitted to long-poll.
//   - FollowRemote, for broker-only nodes (process.roles=broker), is a KRaft observer: Kafka's Fetch on
//     __cluster_metadata-0 (v12-17, by name or by Kafka's metadata topic ID) to the quorum leader's
//     controller listener, found among controller.quorum.voters by following NOT_LEADER_OR_FOLLOWER's
//     CurrentLeader; when the leader answers with a SnapshotID (the log it needs was compacted),
//     FetchSnapshot in chunks, then Fetch from the snapshot's end offset. Offsets are quorum indexes;
//     each batch is one Kafka v2 record batch (metadata.AppendLogBatch). Only committed batches are
//     served, so an observer never truncates.
//
// # Wiring a broker (the broker's main type, next step)
//
// A node with process.roles containing controller starts controller.StartServer on its controller
// listener. Every broker then:
//
//  1. creates a metadata.Publisher at metadata.Empty() and subscribes its parts before starting the
//     Follower (a subscriber sees every image after it subscribed, with no gaps);
//  2. on each published Update (synchronously, on the Follower's goroutine — quick, no I/O; hand work to
//     the partition manager's own goroutine): Changes.Local(nodeID) names the partitions this broker now
//     leads, follows, or must delete. For each it leads: broker/partition becomes leader at the image's
//     leader epoch, ISR and replicas; for each it follows: broker/partition becomes follower and
//     broker/replica's manager moves it to the fetcher of its leader (endpoint from the image's Broker,
//     inter.broker.listener.name); deleted topics are removed. __consumer_offsets leadership changes load
//     or unload the group coordinators;
//  3. request handlers consult Publisher.Current() (lock-free) for Metadata, leaders, epochs and configs:
//     NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH come from the image; nothing is cached beside it;
//  4. admin requests (CreateTopics, DeleteTopics, CreatePartitions, IncrementalAlterConfigs and
//     AlterConfigs on topics, and the topics Metadata auto-creates; broker/admin_forward.go) and the
//     broker's own AlterPartition (ISR changes) and AllocateProducerIds (the blocks InitProducerId hands out)
//     are forwarded to the active controller with a ControllerClient (Kafka's forwarding: it finds the
//     active controller as the Manager does and retries NOT_CONTROLLER until the request's deadline)
//     and answered with the controller's reply once the broker applied the records that come back
//     through the Follower (ElectLeaders and the reassignment APIs are served by the controller
//     listener only, so far);
//  5. starts the Manager with MetadataOffset = Publisher.Current().Offset() (and PreviousBrokerEpoch,
//     if it kept one), waits for it to be unfenced before it serves clients as a replica leader
//     (WaitFor), and on SIGTERM calls ControlledShutdown (bounded), keeps State().BrokerEpoch on disk
//     for the next start, closes partitions, then Close on the Manager, the Follower, and the
//     controller Server, in that order.
//
// Kafka's settings map as follows: process.roles decides whether controller.StartServer runs and
// which Follower (FollowLocal with broker,controller; FollowRemote with broker alone);
// controller.quorum.voters (quorum.ParseVoters) is quorum.Config.Voters, Config.Voters,
// RemoteConfig.Voters and NewControllerClient's voters; the first of controller.listener.names is the
// listener StartServer is given and ServerConfig.ListenerName; node.id is NodeID everywhere;
// broker.heartbeat.interval.ms is Config.HeartbeatInterval; broker.session.timeout.ms is
// controller.Config.SessionTimeout; metadata.log.max.record.bytes.between.snapshots and
// metadata.log.max.snapshot.interval.ms are quorum.Config.SnapshotAfterBytes and SnapshotInterval;
// cluster.id (meta.properties) is ClusterID and controller.Config.ClusterID.
//
// # Goroutines and locks
//
// Manager: one goroutine (run); Manager.mu guards the state, the shutdown wish and the change channel;
// controllers.mu (inside the Manager, a ControllerClient and a remote Follower, one each) guards the
// per-voter clients, the active-controller guess and the stale-hint bookkeeping; the search for the
// quorum leader asks the voters from short-lived goroutines it waits for. Follower: one goroutine;
// Follower.mu guards its error. No lock is held while sending a request, and none is taken while
// another is held.
package lifecycle
