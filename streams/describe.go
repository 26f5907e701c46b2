package streams

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// InternalTopicPrefix stands for "<ApplicationID>-" in the topic names of a description: a
// topology does not know its application id, so a repartition topic is described as
// <application.id>-<name>-repartition.
const InternalTopicPrefix = "<application.id>-"

// TopologyDescription is the structure of a Topology, as Kafka Streams' TopologyDescription:
// what Describe, DescribeJSON and DescribeDOT print. Its JSON form (DescribeJSON) is:
//
//	{
//	  "subtopologies": [
//	    {
//	      "id": 0,
//	      "nodes": [
//	        {"name": "...", "type": "source", "topics": ["in"], "predecessors": [], "successors": ["..."]},
//	        {"name": "...", "type": "processor", "stores": ["counts"], "predecessors": ["..."], "successors": ["..."]},
//	        {"name": "...", "type": "sink", "topic": "out", "predecessors": ["..."], "successors": []}
//	      ],
//	      "stores": ["counts"]
//	    }
//	  ],
//	  "globalStores": []
//	}
//
// Sub-topologies are in id order and their nodes in the order they were added (parents before
// children); "stores" of a processor node and of a sub-topology are omitted when empty, as are
// "topics" and "topic" where they do not apply. Internal topics are named with
// InternalTopicPrefix. globalStores lists global state stores (each with its id, source and
// processor nodes and topic); it is an empty list when the topology has none.
type TopologyDescription struct {
	Subtopologies []SubtopologyDescription `json:"subtopologies"`
	GlobalStores  []GlobalStoreDescription `json:"globalStores"`
}

// SubtopologyDescription is one sub-topology: a connected part of the graph, run as one task
// per input partition number.
type SubtopologyDescription struct {
	ID     int               `json:"id"`
	Nodes  []NodeDescription `json:"nodes"`
	Stores []string          `json:"stores,omitempty"`
}

// Node types of a NodeDescription.
const (
	NodeSource    = "source"
	NodeProcessor = "processor"
	NodeSink      = "sink"
)

// NodeDescription is one node of a sub-topology.
type NodeDescription struct {
	Name string `json:"name"`
	// Type is NodeSource, NodeProcessor or NodeSink.
	Type string `json:"type"`
	// Topics are the topics a source reads.
	Topics []string `json:"topics,omitempty"`
	// Topic is the topic a sink writes.
	Topic string `json:"topic,omitempty"`
	// Stores are the state stores a processor uses.
	Stores []string `json:"stores,omitempty"`
	// Predecessors and Successors name the nodes records come from and go to.
	Predecessors []string `json:"predecessors"`
	Successors   []string `json:"successors"`
}

// GlobalStoreDescription is a global state store: a source reading Topic into the store
// through a processor, on every instance, outside any sub-topology.
type GlobalStoreDescription struct {
	ID        int             `json:"id"`
	Topic     string          `json:"topic"`
	Source    NodeDescription `json:"source"`
	Processor NodeDescription `json:"processor"`
}

// Description returns the topology's structure.
func (t *Topology) Description() TopologyDescription {
	d := TopologyDescription{Subtopologies: []SubtopologyDescription{}, GlobalStores: []GlobalStoreDescription{}}
	for _, st := range t.subs {
		sd := SubtopologyDescription{ID: st.id, Stores: slices.Clone(st.stores)}
		for _, n := range st.nodes {
			nd := NodeDescription{Name: n.name, Predecessors: nodeNames(n.parents), Successors: nodeNames(n.children)}
			switch n.kind {
			case sourceNode:
				nd.Type = NodeSource
				nd.Topics = []string{topicName(strings.TrimSuffix(InternalTopicPrefix, "-"), n)}
			case processorNode:
				nd.Type = NodeProcessor
				nd.Stores = slices.Clone(n.stores)
			case sinkNode:
				nd.Type = NodeSink
				nd.Topic = topicName(strings.TrimSuffix(InternalTopicPrefix, "-"), n)
			}
			sd.Nodes = append(sd.Nodes, nd)
		}
		d.Subtopologies = append(d.Subtopologies, sd)
	}
	return d
}

func nodeNames(ns []*node) []string {
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = n.name
	}
	return names
}

// DescribeJSON returns the topology's description (see TopologyDescription) as indented JSON
// ending with a newline.
func (t *Topology) DescribeJSON() string {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false) // keep <application.id> readable
	enc.SetIndent("", "  ")
	// NB: the description holds only strings, ints and slices of them: encoding cannot fail.
	_ = enc.Encode(t.Description())
	return sb.String()
}

// DescribeDOT returns the topology as a Graphviz DOT digraph (render it with
// `dot -Tsvg topology.dot > topology.svg`): each sub-topology is a cluster "Sub-topology: N" of
// its nodes (boxes) and state stores (cylinders, linked to the processors using them by
// dashed edges), and topics are ellipses outside the clusters, with edges from the sinks
// writing them and to the sources reading them, so repartition topics show how the
// sub-topologies feed each other. Node ids are the processor names, "topic:<name>" and
// "store:<name>".
func (t *Topology) DescribeDOT() string {
	d := t.Description()
	var sb strings.Builder
	sb.WriteString("digraph topology {\n")
	sb.WriteString("  rankdir=TB;\n")
	sb.WriteString("  graph [fontname=\"Helvetica\", fontsize=12];\n")
	sb.WriteString("  node [fontname=\"Helvetica\", fontsize=10];\n")
	var topics []string
	addTopic := func(topic string) {
		if !slices.Contains(topics, topic) {
			topics = append(topics, topic)
		}
	}
	var edges []string
	for _, sd := range d.Subtopologies {
		fmt.Fprintf(&sb, "  subgraph cluster_%d {\n", sd.ID)
		fmt.Fprintf(&sb, "    label=%s;\n", dotQuote(fmt.Sprintf("Sub-topology: %d", sd.ID)))
		for _, nd := range sd.Nodes {
			label := nd.Type + "\\n" + dotEscape(nd.Name)
			fmt.Fprintf(&sb, "    %s [shape=box, label=\"%s\"];\n", dotQuote(nd.Name), label)
			for _, topic := range nd.Topics {
				addTopic(topic)
				edges = append(edges, fmt.Sprintf("  %s -> %s;\n", dotQuote("topic:"+topic), dotQuote(nd.Name)))
			}
			if nd.Topic != "" {
				addTopic(nd.Topic)
				edges = append(edges, fmt.Sprintf("  %s -> %s;\n", dotQuote(nd.Name), dotQuote("topic:"+nd.Topic)))
			}
			for _, s := range nd.Successors {
				edges = append(edges, fmt.Sprintf("  %s -> %s;\n", dotQuote(nd.Name), dotQuote(s)))
			}
			for _, s := range nd.Stores {
				edges = append(edges, fmt.Sprintf("  %s -> %s [style=dashed, dir=both];\n", dotQuote(nd.Name), dotQuote("store:"+s)))
			}
		}
		for _, s := range sd.Stores {
			fmt.Fprintf(&sb, "    %s [shape=cylinder, label=%s];\n", dotQuote("store:"+s), dotQuote(s))
		}
		sb.WriteString("  }\n")
	}
	for _, topic := range topics {
		fmt.Fprintf(&sb, "  %s [shape=ellipse, label=%s];\n", dotQuote("topic:"+topic), dotQuote(topic))
	}
	for _, e := range edges {
		sb.WriteString(e)
	}
	sb.WriteString("}\n")
	return sb.String()
}

// dotQuote quotes s as a DOT string id.
func dotQuote(s string) string { return `"` + dotEscape(s) + `"` }

// dotEscape escapes the characters DOT interprets inside a quoted string.
func dotEscape(s string) string {
	q := strconv.Quote(s) // escapes quotes, backslashes and control characters
	return q[1 : len(q)-1]
}

// SourceTopics returns the topics the topology reads that the application does not own (not
// repartition topics), sorted: those that must exist before Start.
func (t *Topology) SourceTopics() []string {
	return t.userTopics(sourceNode)
}

// SinkTopics returns the topics the topology writes that the application does not own (not
// repartition topics), sorted.
func (t *Topology) SinkTopics() []string {
	return t.userTopics(sinkNode)
}

func (t *Topology) userTopics(kind nodeKind) []string {
	var topics []string
	for _, n := range t.nodes {
		if n.kind == kind && !n.internal && !slices.Contains(topics, n.topic) {
			topics = append(topics, n.topic)
		}
	}
	slices.Sort(topics)
	return topics
}
