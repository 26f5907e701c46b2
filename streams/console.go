package streams

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ConsoleAppsTopic is the compacted topic where running Apps publish themselves for the console
// (see ConsoleApp and docs/streams-console.md).
const ConsoleAppsTopic = "__gregor_streams_apps"

// DefaultConsolePublishInterval is the default Config.ConsolePublishInterval.
const DefaultConsolePublishInterval = 5 * time.Second

// consoleWriteTimeout bounds one write to ConsoleAppsTopic.
const consoleWriteTimeout = 10 * time.Second

// ConsoleApp is the value an App writes to ConsoleAppsTopic under the key
// "<ApplicationID>/<InstanceID>" (a tombstone when it closes). Its JSON form is the format the
// console reads; docs/streams-console.md documents it.
type ConsoleApp struct {
	ApplicationID string `json:"applicationId"`
	InstanceID    string `json:"instanceId"`
	// UpdatedMs is when the record was written (ms since the Unix epoch).
	UpdatedMs int64 `json:"updatedMs"`
	// State is the App's State (RUNNING, REBALANCING, ...).
	State    string          `json:"state"`
	Topology ConsoleTopology `json:"topology"`
	// NodeMetrics are per processor node, over this instance's tasks.
	NodeMetrics map[string]ConsoleNodeMetrics `json:"nodeMetrics"`
}

// ConsoleTopology is the App's topology with its internal topics named in full.
type ConsoleTopology struct {
	Subtopologies     []ConsoleSubtopology `json:"subtopologies"`
	Stores            []ConsoleStore       `json:"stores"`
	RepartitionTopics []string             `json:"repartitionTopics"`
}

// ConsoleSubtopology is one sub-topology and its nodes, parents before children.
type ConsoleSubtopology struct {
	ID    int           `json:"id"`
	Nodes []ConsoleNode `json:"nodes"`
}

// ConsoleNode is one node: Type is "source", "processor" or "sink"; Topics are the topics a
// source reads or the one a sink writes; Stores the stores a processor uses; Successors the
// nodes it forwards to. Lists are empty, never null.
type ConsoleNode struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	Topics     []string `json:"topics"`
	Stores     []string `json:"stores"`
	Successors []string `json:"successors"`
}

// ConsoleStore is a state store and its changelog topic.
type ConsoleStore struct {
	Name           string `json:"name"`
	ChangelogTopic string `json:"changelogTopic"`
}

// ConsoleNodeMetrics are a node's figures on this instance: records per second and mean
// process latency over the last publish interval, and the records waiting upstream of it
// (for a source, its topics' lag; for the other nodes, their sub-topology's sources' lag).
type ConsoleNodeMetrics struct {
	ProcessRate         float64 `json:"processRate"`
	ProcessLatencyAvgMs float64 `json:"processLatencyAvgMs"`
	Lag                 int64   `json:"lag"`
}

// ConsoleKey is the key of an App instance's record in ConsoleAppsTopic.
func ConsoleKey(applicationID, instanceID string) string { return applicationID + "/" + instanceID }

// consolePublisher writes the App to ConsoleAppsTopic at Start and every interval.
type consolePublisher struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// prev* are the node totals at the last publish, for rates over the interval; used by the
	// publishing goroutine only.
	prevAt       time.Time
	prevCount    map[string]int64
	prevLatCount map[string]uint64
	prevLatSum   map[string]float64
	prevAvgMs    map[string]float64
}

// startConsole starts publishing, unless ConsolePublishInterval turns it off. It publishes at
// once when the App's state changes too.
func (a *App) startConsole() {
	if a.cfg.ConsolePublishInterval < 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.console.cancel = cancel
	a.console.wg.Go(func() {
		created := false
		for {
			if !created {
				created = a.createConsoleTopic(ctx)
			}
			if created {
				a.publishConsole(ctx)
			}
			select {
			case <-ctx.Done():
				return
			case <-a.state.changed:
			case <-time.After(a.cfg.ConsolePublishInterval):
			}
		}
	})
}

// stopConsolePublisher stops publishing and waits for the publishing goroutine.
func (a *App) stopConsolePublisher() {
	if a.console.cancel == nil {
		return
	}
	a.console.cancel()
	a.console.wg.Wait()
}

// writeConsoleTombstone writes the instance's tombstone, if it published. Close calls it
// before it closes the producer.
func (a *App) writeConsoleTombstone() {
	if a.console.cancel == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), consoleWriteTimeout)
	defer cancel()
	key := ConsoleKey(a.cfg.ApplicationID, a.cfg.InstanceID)
	if err := a.producer.ProduceSync(ctx, &kgo.Record{Topic: ConsoleAppsTopic, Key: []byte(key)}).FirstErr(); err != nil {
		a.log.Warn("console: write the tombstone", "topic", ConsoleAppsTopic, "key", key, "err", err)
	}
}

// createConsoleTopic creates ConsoleAppsTopic (compacted) unless it exists; it reports whether
// the topic is there.
func (a *App) createConsoleTopic(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, consoleWriteTimeout)
	defer cancel()
	rf := a.cfg.ReplicationFactor
	if rf == 0 {
		rf = -1
	}
	compact := "compact"
	_, err := kadm.NewClient(a.producer).CreateTopic(ctx, 1, rf, map[string]*string{"cleanup.policy": &compact}, ConsoleAppsTopic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		if ctx.Err() == nil {
			a.log.Warn("console: create topic", "topic", ConsoleAppsTopic, "err", err)
		}
		return false
	}
	return true
}

// publishConsole writes the App's current ConsoleApp record.
func (a *App) publishConsole(ctx context.Context) {
	value, err := json.Marshal(a.consoleApp(time.Now()))
	if err != nil {
		a.log.Warn("console: encode", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, consoleWriteTimeout)
	defer cancel()
	key := ConsoleKey(a.cfg.ApplicationID, a.cfg.InstanceID)
	if err := a.producer.ProduceSync(ctx, &kgo.Record{Topic: ConsoleAppsTopic, Key: []byte(key), Value: value}).FirstErr(); err != nil && ctx.Err() == nil {
		a.log.Warn("console: publish", "topic", ConsoleAppsTopic, "err", err)
	}
}

// consoleApp builds the App's record at now. Only the publishing goroutine calls it.
func (a *App) consoleApp(now time.Time) ConsoleApp {
	c := &a.console
	count, latCount, latSum, lagByTopic := a.metrics.nodeTotals()
	out := ConsoleApp{
		ApplicationID: a.cfg.ApplicationID,
		InstanceID:    a.cfg.InstanceID,
		UpdatedMs:     now.UnixMilli(),
		State:         a.State().String(),
		Topology:      a.consoleTopology(),
		NodeMetrics:   map[string]ConsoleNodeMetrics{},
	}
	if c.prevAvgMs == nil {
		c.prevAvgMs = map[string]float64{}
	}
	elapsed := now.Sub(c.prevAt).Seconds()
	for _, st := range a.topo.subs {
		var subLag int64
		for _, n := range st.sources {
			subLag += lagByTopic[topicName(a.cfg.ApplicationID, n)]
		}
		for _, n := range st.nodes {
			m := ConsoleNodeMetrics{Lag: subLag}
			if n.kind == sourceNode {
				m.Lag = lagByTopic[topicName(a.cfg.ApplicationID, n)]
			}
			if c.prevCount != nil && elapsed > 0 {
				m.ProcessRate = max(0, float64(count[n.name]-c.prevCount[n.name])/elapsed)
			}
			// NB: the mean over the interval's samples; the last known mean when the interval
			// had none (one record in 256 is timed).
			m.ProcessLatencyAvgMs = c.prevAvgMs[n.name]
			if dc := latCount[n.name] - c.prevLatCount[n.name]; latCount[n.name] > c.prevLatCount[n.name] && dc > 0 {
				m.ProcessLatencyAvgMs = (latSum[n.name] - c.prevLatSum[n.name]) / float64(dc) * 1000
			}
			c.prevAvgMs[n.name] = m.ProcessLatencyAvgMs
			out.NodeMetrics[n.name] = m
		}
	}
	c.prevAt, c.prevCount, c.prevLatCount, c.prevLatSum = now, count, latCount, latSum
	return out
}

// consoleTopology is the topology's Description with the App's topic names.
func (a *App) consoleTopology() ConsoleTopology {
	t := ConsoleTopology{Subtopologies: []ConsoleSubtopology{}, Stores: []ConsoleStore{}, RepartitionTopics: []string{}}
	for _, st := range a.topo.subs {
		cs := ConsoleSubtopology{ID: st.id, Nodes: []ConsoleNode{}}
		for _, n := range st.nodes {
			cn := ConsoleNode{Name: n.name, Topics: []string{}, Stores: slices.Clone(n.stores), Successors: nodeNames(n.children)}
			if cn.Stores == nil {
				cn.Stores = []string{}
			}
			switch n.kind {
			case sourceNode:
				cn.Type = NodeSource
				cn.Topics = []string{topicName(a.cfg.ApplicationID, n)}
			case processorNode:
				cn.Type = NodeProcessor
			case sinkNode:
				cn.Type = NodeSink
				cn.Topics = []string{topicName(a.cfg.ApplicationID, n)}
			}
			if n.internal && n.kind == sinkNode && !slices.Contains(t.RepartitionTopics, cn.Topics[0]) {
				t.RepartitionTopics = append(t.RepartitionTopics, cn.Topics[0])
			}
			cs.Nodes = append(cs.Nodes, cn)
		}
		for _, s := range st.stores {
			t.Stores = append(t.Stores, ConsoleStore{Name: s, ChangelogTopic: statestore.ChangelogTopic(a.cfg.ApplicationID, s)})
		}
		t.Subtopologies = append(t.Subtopologies, cs)
	}
	slices.Sort(t.RepartitionTopics)
	return t
}

// defaultInstanceID is the host name and a random suffix.
func defaultInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "streams"
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // NB: crypto/rand.Read never fails on supported platforms
	return fmt.Sprintf("%s-%s", host, hex.EncodeToString(b[:]))
}
