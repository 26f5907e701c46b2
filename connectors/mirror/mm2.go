package mirror

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gregor-streams/gregor/connect"
)

// Flow is one enabled replication flow of an mm2.properties file (connect-mirror-maker.sh's
// format): the properties of the Connect worker that runs it, on the target cluster, and the
// configs of its three connectors, by connector name.
type Flow struct {
	Source, Target string
	Worker         map[string]string
	Connectors     map[string]map[string]string
}

// mm2WorkerKeys are top-level mm2.properties keys that configure the worker, not the connectors.
var mm2WorkerKeys = []string{"config.storage.replication.factor", "offset.storage.replication.factor",
	"status.storage.replication.factor", "offset.flush.interval.ms"}

// ParseMM2 reads MirrorMaker 2's dedicated-mode properties: `clusters = A, B`,
// `A.bootstrap.servers`, `A->B.enabled = true`, and connector settings either at the top level
// (every flow) or prefixed `A->B.` (that flow). Each enabled flow runs on a worker whose cluster
// is the flow's target, with MirrorMaker 2's internal topics there (mm2-configs.<source>.internal,
// mm2-offsets.<source>.internal, mm2-status.<source>.internal, group <source>-mm2). Flows come
// back sorted by source, then target.
func ParseMM2(props map[string]string) ([]Flow, error) {
	clusters := splitList(props["clusters"])
	if len(clusters) == 0 {
		return nil, fmt.Errorf("%w: clusters: name at least one cluster alias", connect.ErrInvalidConfig)
	}
	isCluster := map[string]bool{}
	for _, c := range clusters {
		if strings.Contains(c, "->") || strings.ContainsAny(c, " \t") {
			return nil, fmt.Errorf("%w: clusters: %q is not a cluster alias", connect.ErrInvalidConfig, c)
		}
		if props[c+".bootstrap.servers"] == "" {
			return nil, fmt.Errorf("%w: %s.bootstrap.servers is required", connect.ErrInvalidConfig, c)
		}
		isCluster[c] = true
	}
	// Top-level keys: neither cluster- nor flow-prefixed.
	common := map[string]string{}
	for k, v := range props {
		prefix, _, ok := strings.Cut(k, ".")
		if k == "clusters" || (ok && (isCluster[prefix] || strings.Contains(prefix, "->"))) {
			continue
		}
		common[k] = v
	}
	var flows []Flow
	for k, v := range props {
		flow, ok := strings.CutSuffix(k, ".enabled")
		source, target, isFlow := strings.Cut(flow, "->")
		if !ok || !isFlow {
			continue
		}
		if !isCluster[source] || !isCluster[target] || source == target {
			return nil, fmt.Errorf("%w: %s: %s->%s is not a flow between two listed clusters", connect.ErrInvalidConfig, k, source, target)
		}
		if strings.TrimSpace(strings.ToLower(v)) != "true" {
			continue
		}
		flows = append(flows, newFlow(props, common, source, target))
	}
	slices.SortFunc(flows, func(a, b Flow) int { return strings.Compare(a.Source+"->"+a.Target, b.Source+"->"+b.Target) })
	return flows, nil
}

func newFlow(props, common map[string]string, source, target string) Flow {
	cfg := map[string]string{}
	for k, v := range common {
		if !slices.Contains(mm2WorkerKeys, k) {
			cfg[k] = v
		}
	}
	prefix := source + "->" + target + "."
	for k, v := range props {
		if rest, ok := strings.CutPrefix(k, prefix); ok && rest != "enabled" {
			cfg[rest] = v
		}
	}
	cfg[ConfigSourceAlias], cfg[ConfigTargetAlias] = source, target
	cfg[ConfigSourceBootstrap], cfg[ConfigTargetBootstrap] = props[source+".bootstrap.servers"], props[target+".bootstrap.servers"]
	cfg[connect.ConfigKeyConverter] = connect.ByteArrayConverterClass
	cfg[connect.ConfigValueConverter] = connect.ByteArrayConverterClass
	if cfg[connect.ConfigTasksMax] == "" {
		cfg[connect.ConfigTasksMax] = "1"
	}
	connectors := map[string]map[string]string{}
	for _, class := range []string{SourceClass, CheckpointClass, HeartbeatClass} {
		name := class[strings.LastIndexByte(class, '.')+1:]
		c := maps.Clone(cfg)
		c[connect.ConfigName], c[connect.ConfigConnectorClass] = name, class
		connectors[name] = c
	}
	worker := map[string]string{
		"bootstrap.servers":                 props[target+".bootstrap.servers"],
		"group.id":                          source + "-mm2",
		"config.storage.topic":              "mm2-configs." + source + ".internal",
		"offset.storage.topic":              "mm2-offsets." + source + ".internal",
		"status.storage.topic":              "mm2-status." + source + ".internal",
		"config.storage.replication.factor": "-1",
		"offset.storage.replication.factor": "-1",
		"status.storage.replication.factor": "-1",
		"listeners":                         "http://127.0.0.1:0",
	}
	for _, k := range mm2WorkerKeys {
		if v, ok := common[k]; ok {
			worker[k] = v
		}
	}
	return Flow{Source: source, Target: target, Worker: worker, Connectors: connectors}
}
