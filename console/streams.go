package console

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// StreamsAppsTopic is the compacted topic where streams applications publish their topology and
// node metrics: key application.id + "/" + instance id, value a JSON AppInstance, a tombstone when
// the instance stops.
const StreamsAppsTopic = "__gregor_streams_apps"

// AppInstance is one value of StreamsAppsTopic: one running instance of a streams application.
type AppInstance struct {
	ApplicationID string                 `json:"applicationId"`
	InstanceID    string                 `json:"instanceId"`
	UpdatedMs     int64                  `json:"updatedMs"`
	State         string                 `json:"state"`
	Topology      Topology               `json:"topology"`
	NodeMetrics   map[string]NodeMetrics `json:"nodeMetrics"`
}

// Topology is a streams application's description: subtopologies of nodes, stores and
// repartition topics.
type Topology struct {
	Subtopologies     []Subtopology `json:"subtopologies"`
	Stores            []StoreInfo   `json:"stores"`
	RepartitionTopics []string      `json:"repartitionTopics"`
}

// Subtopology is a connected part of a topology (one task per input partition).
type Subtopology struct {
	ID    int        `json:"id"`
	Nodes []NodeInfo `json:"nodes"`
}

// NodeInfo is one node: a source (reads Topics), a processor (uses Stores) or a sink (writes
// Topics), with the names of its successors.
type NodeInfo struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	Topics     []string `json:"topics"`
	Stores     []string `json:"stores"`
	Successors []string `json:"successors"`
}

// StoreInfo is a state store and its changelog topic ("" when logging is off).
type StoreInfo struct {
	Name           string `json:"name"`
	ChangelogTopic string `json:"changelogTopic"`
}

// NodeMetrics are one node's live figures in one instance.
type NodeMetrics struct {
	ProcessRate         float64 `json:"processRate"`
	ProcessLatencyAvgMs float64 `json:"processLatencyAvgMs"`
	Lag                 int64   `json:"lag"`
}

// appsReader follows StreamsAppsTopic from its start and keeps the latest value per key.
type appsReader struct {
	s  *Server
	mu struct {
		sync.Mutex
		instances map[string]AppInstance // by record key
		bad       int                    // values that did not parse
	}
}

func newAppsReader(s *Server) *appsReader {
	a := &appsReader{s: s}
	a.mu.instances = map[string]AppInstance{}
	return a
}

// run consumes the topic until ctx is done. The topic may not exist yet: the client keeps asking
// for it (and does not create it).
func (a *appsReader) run(ctx context.Context) {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(a.s.opts.BootstrapServers...),
		kgo.ClientID("gregor-console-streams"),
		kgo.ConsumeTopics(StreamsAppsTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMaxAge(2 * time.Second),
		kgo.MetadataMinAge(500 * time.Millisecond),
		kgo.FetchMaxWait(time.Second),
	}, a.s.opts.ClientOpts...)...)
	if err != nil {
		a.s.log.Error("streams apps reader", "err", err)
		return
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fetches := cl.PollFetches(ctx)
		fetches.EachRecord(a.apply)
	}
}

// apply takes one record of the topic: a value replaces the instance, a tombstone removes it.
func (a *appsReader) apply(rec *kgo.Record) {
	key := string(rec.Key)
	a.mu.Lock()
	defer a.mu.Unlock()
	if rec.Value == nil {
		delete(a.mu.instances, key)
		return
	}
	var inst AppInstance
	if err := json.Unmarshal(rec.Value, &inst); err != nil || inst.ApplicationID == "" {
		a.mu.bad++
		a.s.log.Warn("ignoring a value of "+StreamsAppsTopic+" that is not an application description", "key", key, "offset", rec.Offset, "err", err)
		return
	}
	a.mu.instances[key] = inst
}

// byApp returns the live instances grouped by application id.
func (a *appsReader) byApp() map[string][]AppInstance {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string][]AppInstance{}
	for _, inst := range a.mu.instances {
		out[inst.ApplicationID] = append(out[inst.ApplicationID], inst)
	}
	for _, insts := range out {
		sort.Slice(insts, func(i, j int) bool { return insts[i].InstanceID < insts[j].InstanceID })
	}
	return out
}

// appRow is one application of GET /api/streams.
type appRow struct {
	ApplicationID string         `json:"applicationId"`
	Instances     int            `json:"instances"`
	States        map[string]int `json:"states"`
	UpdatedMs     int64          `json:"updatedMs"`
}

func (a *appsReader) list() []appRow {
	rows := []appRow{}
	for id, insts := range a.byApp() {
		row := appRow{ApplicationID: id, Instances: len(insts), States: map[string]int{}}
		for _, in := range insts {
			row.States[in.State]++
			row.UpdatedMs = max(row.UpdatedMs, in.UpdatedMs)
		}
		rows = append(rows, row)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ApplicationID < rows[j].ApplicationID })
	return rows
}

func (s *Server) listStreamsApps(*http.Request) (any, error) {
	return map[string]any{"topic": StreamsAppsTopic, "applications": s.apps.list()}, nil
}

func (s *Server) describeStreamsApp(r *http.Request) (any, error) {
	app := r.PathValue("app")
	insts := s.apps.byApp()[app]
	if len(insts) == 0 {
		return nil, errNotFound("no running instance of streams application %q publishes to %s", app, StreamsAppsTopic)
	}
	return describeApp(app, insts), nil
}

// graphNode is a node of the rendered topology graph.
type graphNode struct {
	ID          string  `json:"id"`
	Kind        string  `json:"kind"` // source, processor, sink, store, topic, repartition, changelog
	Label       string  `json:"label"`
	Subtopology int     `json:"subtopology"` // -1 for topics
	Rate        float64 `json:"processRate"`
	LatencyMs   float64 `json:"processLatencyAvgMs"`
	Lag         int64   `json:"lag"`
}

// graphEdge is a directed edge of the graph.
type graphEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// describeApp merges an application's instances (they run the same topology: the newest
// description wins, node rates and lags are summed, latencies averaged) and builds its graph:
// processor nodes, topic nodes (input, output, repartition), store nodes and their changelog
// topics, with edges topic→source, node→successor, sink→topic, processor→store, store→changelog.
func describeApp(app string, insts []AppInstance) map[string]any {
	newest := insts[0]
	for _, in := range insts {
		if in.UpdatedMs > newest.UpdatedMs {
			newest = in
		}
	}
	metrics := map[string]NodeMetrics{}
	counts := map[string]int{}
	for _, in := range insts {
		for name, m := range in.NodeMetrics {
			sum := metrics[name]
			sum.ProcessRate += m.ProcessRate
			sum.Lag += m.Lag
			sum.ProcessLatencyAvgMs += m.ProcessLatencyAvgMs
			metrics[name] = sum
			counts[name]++
		}
	}
	for name, n := range counts {
		m := metrics[name]
		m.ProcessLatencyAvgMs /= float64(n)
		metrics[name] = m
	}
	topo := newest.Topology
	repartition := map[string]bool{}
	for _, t := range topo.RepartitionTopics {
		repartition[t] = true
	}
	var nodes []graphNode
	var edges []graphEdge
	seen := map[string]bool{}
	seenEdge := map[graphEdge]bool{}
	addNode := func(n graphNode) {
		if !seen[n.ID] {
			seen[n.ID] = true
			nodes = append(nodes, n)
		}
	}
	addEdge := func(from, to string) {
		e := graphEdge{from, to}
		if !seenEdge[e] {
			seenEdge[e] = true
			edges = append(edges, e)
		}
	}
	topicNode := func(t string) string {
		kind := "topic"
		if repartition[t] {
			kind = "repartition"
		}
		addNode(graphNode{ID: "topic:" + t, Kind: kind, Label: t, Subtopology: -1})
		return "topic:" + t
	}
	changelogs := map[string]string{}
	for _, st := range topo.Stores {
		changelogs[st.Name] = st.ChangelogTopic
	}
	for _, sub := range topo.Subtopologies {
		for _, n := range sub.Nodes {
			m := metrics[n.Name]
			addNode(graphNode{ID: "node:" + n.Name, Kind: n.Type, Label: n.Name, Subtopology: sub.ID,
				Rate: m.ProcessRate, LatencyMs: m.ProcessLatencyAvgMs, Lag: m.Lag})
		}
	}
	for _, sub := range topo.Subtopologies {
		for _, n := range sub.Nodes {
			id := "node:" + n.Name
			for _, t := range n.Topics {
				if n.Type == "sink" {
					addEdge(id, topicNode(t))
				} else {
					addEdge(topicNode(t), id)
				}
			}
			for _, succ := range n.Successors {
				if seen["node:"+succ] {
					addEdge(id, "node:"+succ)
				}
			}
			for _, st := range n.Stores {
				sid := "store:" + st
				addNode(graphNode{ID: sid, Kind: "store", Label: st, Subtopology: sub.ID})
				addEdge(id, sid)
				if cl := changelogs[st]; cl != "" {
					addNode(graphNode{ID: "topic:" + cl, Kind: "changelog", Label: cl, Subtopology: -1})
					addEdge(sid, "topic:"+cl)
				}
			}
		}
	}
	if nodes == nil {
		nodes = []graphNode{}
	}
	if edges == nil {
		edges = []graphEdge{}
	}
	instances := []map[string]any{}
	for _, in := range insts {
		instances = append(instances, map[string]any{"instanceId": in.InstanceID, "state": in.State, "updatedMs": in.UpdatedMs})
	}
	return map[string]any{"applicationId": app, "instances": instances, "topology": topo,
		"graph": map[string]any{"nodes": nodes, "edges": edges}}
}
