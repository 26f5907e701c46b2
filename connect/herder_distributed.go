package connect

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka's 409 messages for requests that meet a rebalance or a config the worker has not read yet.
const (
	msgRebalancing = "Cannot complete request because of a conflicting operation (e.g. worker rebalance)"
	msgStaleConfig = "Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)"
)

// connectProtocol is the group protocol name this worker speaks in a group of protocol type
// "connect". NB: it is Gregor's own (JSON metadata), so a Java worker joining the same group fails
// to agree on a protocol instead of misreading our metadata.
const connectProtocol = "gregor-cooperative-v1"

// memberMetadata is what a worker sends in JoinGroup.
type memberMetadata struct {
	URL          string         `json:"url"`
	ConfigOffset int64          `json:"config_offset"`
	Owned        WorkAssignment `json:"owned"`
}

// syncAssignment is what the leader gives every member in SyncGroup. It carries the assignor's
// memory too, so a member that becomes leader keeps holding a departed worker's work back.
type syncAssignment struct {
	LeaderURL    string                    `json:"leader_url"`
	ConfigOffset int64                     `json:"config_offset"`
	Assignment   MemberAssignment          `json:"assignment"`
	Previous     map[string]WorkAssignment `json:"previous"`
	Lost         WorkAssignment            `json:"lost"`
	LostDeadline int64                     `json:"lost_deadline_ms"`
}

// Distributed is the distributed herder: workers sharing group.id form a Connect cluster. Connector
// configs, target states and task configs live in config.storage.topic, which every worker tails;
// source offsets in offset.storage.topic; statuses in status.storage.topic. Workers join a group of
// protocol type "connect"; its leader assigns connectors and tasks with Assign, and REST writes on
// other workers are forwarded to it.
//
// One driver goroutine owns the group membership and the running work; a heartbeat goroutine keeps
// the membership alive while the driver starts or stops tasks. Lock order: Distributed.mu, then a
// task runner's mu, then a topicSet's. The driver never holds mu while a task stops or a connector
// starts.
type Distributed struct {
	cfg      DistributedConfig
	registry *Registry
	logger   *slog.Logger
	workerID string
	url      string

	worker    *Worker // runs the connectors and tasks assigned here
	offsets   *KafkaOffsetStore
	configLog *topicLog
	statusLog *topicLog
	group     *kgo.Client
	http      *http.Client
	conns     *connTracker // every connection to Kafka of every client here; Halt severs them

	wake      chan struct{}
	firstJoin chan struct{} // closed when the worker has joined its group for the first time
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	once      sync.Once

	// Owned by the driver goroutine only.
	running      map[string]*distConnector
	tasks        map[ConnectorTaskID]*distTask
	lastAssigned string // the leader's config summary at its last assignment

	mu struct {
		sync.Mutex
		closed     bool
		config     clusterConfig
		statuses   map[string]statusRecord
		restarts   []restartRequest
		reconfig   map[string]bool   // connectors whose instance asked for task reconfiguration
		raised     map[string]string // connectors whose instance raised an error: the trace
		memberID   string
		generation int32
		joined     bool // false from the moment a rebalance is needed until its assignment is applied
		everJoined bool // joined has been true once: firstJoin is closed
		synced     bool // a SyncGroup succeeded in the current generation: heartbeats may flow
		needJoin   bool
		leader     bool
		leaderURL  string
		assignment WorkAssignment
		assignor   AssignorState
		topics     map[string]*topicSet       // per connector, the topics its tasks here used
		active     map[string]map[string]bool // per connector, active topics from the status topic
		published  map[string]map[string]bool // per connector, topics this worker wrote there
	}
}

// distConnector is a connector instance running on this worker.
type distConnector struct {
	name   string
	config map[string]string
	target TargetState
	plugin *Plugin
	conn   Connector
	state  string
	trace  string
}

// distTask is a task running on this worker.
type distTask struct {
	runner    *taskRunner
	config    map[string]string
	published TaskState
}

// NewDistributed creates the internal topics if needed, reads the config topic and joins the group.
// workerID is this worker's advertised host:port.
func NewDistributed(ctx context.Context, cfg DistributedConfig, workerID string, opts Options) (*Distributed, error) {
	if opts.Registry == nil {
		opts.Registry = DefaultRegistry
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &Distributed{cfg: cfg, registry: opts.Registry, logger: opts.Logger.With("component", "connect", "worker", workerID),
		workerID: workerID, url: "http://" + workerID, http: &http.Client{Timeout: 60 * time.Second},
		wake: make(chan struct{}, 1), firstJoin: make(chan struct{}), running: map[string]*distConnector{}, tasks: map[ConnectorTaskID]*distTask{},
		conns: newConnTracker(opts.Dialer)}
	d.mu.config = newClusterConfig()
	d.mu.statuses = map[string]statusRecord{}
	d.mu.reconfig = map[string]bool{}
	d.mu.raised = map[string]string{}
	d.mu.topics = map[string]*topicSet{}
	d.mu.active = map[string]map[string]bool{}
	d.mu.published = map[string]map[string]bool{}
	d.mu.needJoin = true

	if err := d.ensureTopics(ctx); err != nil {
		return nil, err
	}
	var err error
	if d.offsets, err = openKafkaOffsetStore(d.clientOpts(), cfg.OffsetTopic, cfg.OffsetFlushTimeout, d.logger); err != nil {
		return nil, err
	}
	if d.statusLog, err = openTopicLog(d.clientOpts(), cfg.StatusTopic, d.logger, d.applyStatus); err != nil {
		d.offsets.close()
		return nil, err
	}
	if d.configLog, err = openTopicLog(d.clientOpts(), cfg.ConfigTopic, d.logger, d.applyConfig); err != nil {
		d.offsets.close()
		d.statusLog.close()
		return nil, err
	}
	if d.group, err = kgo.NewClient(d.clientOpts(kgo.ClientID("connect-" + workerID))...); err != nil {
		d.closeLogs()
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, l := range []*topicLog{d.configLog, d.statusLog} {
		if err := l.readToEnd(rctx); err != nil {
			d.closeLogs()
			d.group.Close()
			return nil, err
		}
	}
	d.worker = newWorker(cfg.WorkerConfig, opts.Registry, d.logger, workerID, d.offsets, d.conns.Dial, opts.Metrics)

	runCtx, stop := context.WithCancel(context.Background())
	d.cancel = stop
	d.wg.Add(2)
	go func() { defer d.wg.Done(); d.run(runCtx) }()
	go func() { defer d.wg.Done(); d.heartbeatLoop(runCtx) }()
	return d, nil
}

func (d *Distributed) ensureTopics(ctx context.Context) error {
	cl, err := kgo.NewClient(d.clientOpts()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, t := range []struct {
		property, name string
		partitions     int32
		replication    int16
	}{
		{"config.storage.topic", d.cfg.ConfigTopic, 1, d.cfg.ConfigReplication},
		{"offset.storage.topic", d.cfg.OffsetTopic, d.cfg.OffsetPartitions, d.cfg.OffsetReplication},
		{"status.storage.topic", d.cfg.StatusTopic, d.cfg.StatusPartitions, d.cfg.StatusReplication},
	} {
		if err := ensureTopic(cctx, adm, t.property, t.name, t.partitions, t.replication, d.logger); err != nil {
			return err
		}
	}
	return nil
}

// clientOpts are the options of every Kafka client the worker makes: its connections go through
// d.conns.
func (d *Distributed) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	return clientOpts(d.cfg.BootstrapServers, d.conns.Dial, extra...)
}

func (d *Distributed) closeLogs() {
	for _, l := range []*topicLog{d.configLog, d.statusLog} {
		if l != nil {
			l.close()
		}
	}
	if d.offsets != nil {
		d.offsets.close()
	}
}

// Close stops every connector and task here (committing their offsets), leaves the group so the
// others take the work over at once, and closes the worker's clients. Idempotent.
func (d *Distributed) Close() error {
	d.shutdown(true)
	return nil
}

// Halt stops the worker the way a crash does. From the moment it is called, no task here calls
// into its connector's task again (no Put, Flush, Commit or Stop), writes a record, stores a source
// offset or commits a consumer offset; then every connection of every Kafka client of the worker
// is dropped at once (through Options.Dialer, if set) and no new one is opened, so nothing buffered
// is delivered either. The worker neither leaves its group nor writes statuses: the other workers
// notice only when its session times out, and take its tasks over from the last offsets they
// stored, at least once. Its goroutines end within bounded time (a task stuck in a call that
// ignores its context is abandoned after haltTaskTimeout). Meant for failover tests and drills; a
// later Close does nothing.
func (d *Distributed) Halt() {
	d.shutdown(false)
}

// haltTaskTimeout bounds how long Halt waits for each task goroutine to end.
const haltTaskTimeout = 5 * time.Second

func (d *Distributed) shutdown(graceful bool) {
	d.once.Do(func() {
		d.mu.Lock()
		d.mu.closed = true
		d.mu.Unlock()
		if !graceful {
			// NB: tasks are stopped before the connections drop, so none writes on the way out
			// (the file sink would write what it buffered); only then is the network cut, which
			// also stops heartbeats at once.
			d.worker.HaltTasks()
			d.conns.sever()
		}
		d.cancel()
		d.wg.Wait()
		d.stopAll(graceful)
		if graceful {
			d.leaveGroup()
		}
		d.group.Close()
		d.closeLogs()
	})
}

// stopAll stops every connector and task running here; after a halt it waits for each task at
// most haltTaskTimeout. NB: unlike Kafka it writes no UNASSIGNED status: the next owner's status
// replaces this worker's anyway.
func (d *Distributed) stopAll(graceful bool) {
	var runners []*distTask
	for id, t := range d.tasks {
		runners = append(runners, t)
		delete(d.tasks, id)
	}
	if graceful {
		stopTasks(runners)
	} else {
		var wg sync.WaitGroup
		for _, t := range runners {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if !t.runner.stopWithin(haltTaskTimeout) {
					d.logger.Warn("abandoning a task of the halted worker that did not end", "connector", t.runner.connector, "task", t.runner.id)
				}
			}()
		}
		wg.Wait()
	}
	for name, c := range d.running {
		// NB: connector instances are stopped even after a halt, to release what they hold; a
		// connector's Stop writes no data (its tasks do).
		d.stopConnectorInstance(c)
		delete(d.running, name)
	}
}

func stopTasks(ts []*distTask) {
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Add(1)
		go func() { defer wg.Done(); t.runner.stop() }()
	}
	wg.Wait()
}

func (d *Distributed) leaveGroup() {
	d.mu.Lock()
	member := d.mu.memberID
	d.mu.Unlock()
	if member == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = d.cfg.GroupID
	req.MemberID = member
	mi := kmsg.NewLeaveGroupRequestMember()
	mi.MemberID = member
	req.Members = append(req.Members, mi)
	if _, err := req.RequestWith(ctx, d.group); err != nil {
		d.logger.Warn("leaving the group", "group", d.cfg.GroupID, "err", err)
	}
}

// nudge wakes the driver.
func (d *Distributed) nudge() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// requestRejoinLocked marks that this worker must rejoin the group; until the new assignment is
// applied, writes answer 409.
func (d *Distributed) requestRejoinLocked(resetMember bool) {
	d.mu.needJoin = true
	d.mu.joined = false
	if resetMember {
		d.mu.memberID = ""
	}
}

// applyConfig is the config topic's record handler.
func (d *Distributed) applyConfig(r *kgo.Record) {
	d.mu.Lock()
	restart, err := d.mu.config.apply(string(r.Key), r.Value)
	if restart != nil {
		d.mu.restarts = append(d.mu.restarts, *restart)
	}
	d.mu.Unlock()
	if err != nil {
		d.logger.Warn("skipping config record", "offset", r.Offset, "err", err)
	}
	d.nudge()
}

// applyStatus is the status topic's record handler. NB: like Kafka, a status written by another
// worker in an older generation does not replace a newer one (a worker that just lost a task may
// report it UNASSIGNED after its new owner reported it RUNNING).
func (d *Distributed) applyStatus(r *kgo.Record) {
	key := string(r.Key)
	d.mu.Lock()
	defer d.mu.Unlock()
	if strings.HasPrefix(key, statusTopicPrefix) {
		d.applyActiveTopicLocked(key, r.Value)
		return
	}
	if r.Value == nil {
		delete(d.mu.statuses, key)
		return
	}
	var st statusRecord
	if err := json.Unmarshal(r.Value, &st); err != nil {
		d.logger.Warn("skipping status record", "key", key, "offset", r.Offset, "err", err)
		return
	}
	if old, ok := d.mu.statuses[key]; ok && old.WorkerID != st.WorkerID && st.Generation < old.Generation {
		return
	}
	d.mu.statuses[key] = st
}

// applyActiveTopicLocked applies a topic-<topic>-connector-<name> status record (Kafka's active
// topic tracking, KIP-558); the names come from the value, or for a tombstone from the key.
func (d *Distributed) applyActiveTopicLocked(key string, value []byte) {
	if value == nil {
		topic, connector, ok := strings.Cut(strings.TrimPrefix(key, statusTopicPrefix), "-connector-")
		if !ok {
			return
		}
		delete(d.mu.active[connector], topic)
		delete(d.mu.published[connector], topic)
		if ts := d.mu.topics[connector]; ts != nil {
			ts.remove(topic)
		}
		return
	}
	var v activeTopicValue
	if err := json.Unmarshal(value, &v); err != nil || v.Topic.Name == "" || v.Topic.Connector == "" {
		d.logger.Warn("skipping active topic record", "key", key)
		return
	}
	if d.mu.active[v.Topic.Connector] == nil {
		d.mu.active[v.Topic.Connector] = map[string]bool{}
	}
	d.mu.active[v.Topic.Connector][v.Topic.Name] = true
}

// publishActiveTopics writes a status record for every topic a task here used that the status
// topic does not list yet.
func (d *Distributed) publishActiveTopics(ctx context.Context) {
	type pending struct{ connector, topic string }
	var todo []pending
	d.mu.Lock()
	for connector, ts := range d.mu.topics {
		if _, configured := d.mu.config.connectors[connector]; !configured {
			continue
		}
		for _, topic := range ts.list() {
			if !d.mu.active[connector][topic] && !d.mu.published[connector][topic] {
				todo = append(todo, pending{connector, topic})
			}
		}
	}
	d.mu.Unlock()
	for _, p := range todo {
		v := activeTopicValue{}
		v.Topic.Name, v.Topic.Connector, v.Topic.DiscoverTimestamp = p.topic, p.connector, time.Now().UnixMilli()
		b, _ := json.Marshal(v)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := d.statusLog.send(wctx, &kgo.Record{Key: []byte(activeTopicKey(p.topic, p.connector)), Value: b})
		cancel()
		if err != nil {
			d.logger.Warn("writing an active topic", "connector", p.connector, "topic", p.topic, "err", err)
			continue
		}
		d.mu.Lock()
		if d.mu.published[p.connector] == nil {
			d.mu.published[p.connector] = map[string]bool{}
		}
		d.mu.published[p.connector][p.topic] = true
		d.mu.Unlock()
	}
}
