package console

import (
	"net/http"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// brokerInfo is one broker of GET /api/brokers and the overview.
type brokerInfo struct {
	NodeID     int32   `json:"nodeId"`
	Host       string  `json:"host"`
	Port       int32   `json:"port"`
	Rack       *string `json:"rack,omitempty"`
	Controller bool    `json:"controller"`
}

func (s *Server) brokers(r *http.Request) (any, error) {
	m, err := s.adm.BrokerMetadata(r.Context())
	if err != nil {
		return nil, errUnavailable("cluster unreachable: %v", err)
	}
	return map[string]any{"clusterId": m.Cluster, "controller": m.Controller, "brokers": brokerList(m)}, nil
}

func brokerList(m kadm.Metadata) []brokerInfo {
	out := []brokerInfo{}
	for _, b := range m.Brokers {
		out = append(out, brokerInfo{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack, Controller: b.NodeID == m.Controller})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out
}

// overview is GET /api/overview: brokers, counts, connectors and throughput sparklines.
func (s *Server) overview(r *http.Request) (any, error) {
	ctx := r.Context()
	m, err := s.adm.Metadata(ctx)
	if err != nil {
		return nil, errUnavailable("cluster unreachable: %v", err)
	}
	internal, partitions, underReplicated, offline := 0, 0, 0, 0
	for _, t := range m.Topics {
		if t.IsInternal || strings.HasPrefix(t.Topic, "__") {
			internal++
		}
		partitions += len(t.Partitions)
		for _, p := range t.Partitions {
			if p.Leader < 0 {
				offline++
			} else if len(p.ISR) < len(p.Replicas) {
				underReplicated++
			}
		}
	}
	out := map[string]any{
		"clusterId":      m.Cluster,
		"controller":     m.Controller,
		"brokers":        brokerList(m),
		"topics":         len(m.Topics),
		"internalTopics": internal,
		"partitions":     partitions,
		// Cluster health, as Kafka's UnderReplicatedPartitions and OfflinePartitionsCount.
		"underReplicatedPartitions": underReplicated,
		"offlinePartitions":         offline,
	}
	if groups, err := s.adm.ListGroups(ctx); err == nil {
		states := map[string]int{}
		for _, g := range groups {
			states[g.State]++
		}
		out["groups"] = len(groups)
		out["groupStates"] = states
	} else {
		out["groupsError"] = err.Error()
	}
	out["connect"] = s.connectSummary(r)
	out["streamsApps"] = len(s.apps.list())
	rates := s.sampler.topicRates(nil)
	top := topTopics(rates, 8)
	series := map[string][]point{}
	for _, t := range top {
		series[t] = rates[t]
	}
	out["throughput"] = map[string]any{"total": rates[""], "topics": series, "top": top,
		"intervalMs": s.opts.SampleInterval.Milliseconds()}
	return out, nil
}

// topicRow is one row of the topics list.
type topicRow struct {
	Name              string `json:"name"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replicationFactor"`
	Internal          bool   `json:"internal"`
	UnderReplicated   int    `json:"underReplicated"`
}

// listTopics is GET /api/topics?page=1&size=50&q=substring&internal=true: a page of topics sorted
// by name, from metadata only (no per-topic calls), so thousands of topics list quickly.
func (s *Server) listTopics(r *http.Request) (any, error) {
	page, err := queryInt(r, "page", 1)
	if err != nil {
		return nil, err
	}
	size, err := queryInt(r, "size", 50)
	if err != nil {
		return nil, err
	}
	if page < 1 || size < 1 || size > 1000 {
		return nil, errBadRequest("page must be >= 1 and size between 1 and 1000 (got page=%d size=%d)", page, size)
	}
	q := strings.ToLower(r.URL.Query().Get("q"))
	withInternal := r.URL.Query().Get("internal") == "true"
	var details kadm.TopicDetails
	if withInternal {
		details, err = s.adm.ListTopicsWithInternal(r.Context())
	} else {
		details, err = s.adm.ListTopics(r.Context())
	}
	if err != nil {
		return nil, errUnavailable("cluster unreachable: %v", err)
	}
	rows := make([]topicRow, 0, len(details))
	for _, t := range details {
		if q != "" && !strings.Contains(strings.ToLower(t.Topic), q) {
			continue
		}
		row := topicRow{Name: t.Topic, Partitions: len(t.Partitions), Internal: t.IsInternal}
		for _, p := range t.Partitions {
			row.ReplicationFactor = max(row.ReplicationFactor, len(p.Replicas))
			if len(p.ISR) < len(p.Replicas) {
				row.UnderReplicated++
			}
		}
		rows = append(rows, row)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	total := len(rows)
	from := min(int((page-1)*size), total)
	to := min(from+int(size), total)
	return map[string]any{"total": total, "page": page, "size": size, "topics": rows[from:to]}, nil
}

// createTopicRequest is POST /api/topics.
type createTopicRequest struct {
	Name              string            `json:"name"`
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replicationFactor"`
	Configs           map[string]string `json:"configs"`
}

func (s *Server) createTopic(r *http.Request) (any, error) {
	var req createTopicRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, errBadRequest("topic name is required")
	}
	if req.Partitions == 0 {
		req.Partitions = -1 // the broker's num.partitions
	}
	if req.ReplicationFactor == 0 {
		req.ReplicationFactor = -1
	}
	configs := map[string]*string{}
	for k, v := range req.Configs {
		configs[k] = &v
	}
	resp, err := s.adm.CreateTopic(r.Context(), req.Partitions, req.ReplicationFactor, configs, req.Name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return nil, topicErr(req.Name, err)
	}
	return map[string]any{"name": resp.Topic, "partitions": resp.NumPartitions, "replicationFactor": resp.ReplicationFactor}, nil
}

// topicErr names the topic in an error, keeping its status.
func topicErr(topic string, err error) error {
	return &apiError{statusOf(err), "topic " + topic + ": " + err.Error()}
}

// partitionInfo is one partition of GET /api/topics/{topic}.
type partitionInfo struct {
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leaderEpoch"`
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"isr"`
	Offline     []int32 `json:"offlineReplicas"`
	Start       int64   `json:"startOffset"`
	End         int64   `json:"endOffset"`
	SizeBytes   int64   `json:"sizeBytes"`
	Error       string  `json:"error,omitempty"`
}

// configEntry is one topic config.
type configEntry struct {
	Name      string  `json:"name"`
	Value     *string `json:"value"`
	Source    string  `json:"source"`
	Sensitive bool    `json:"sensitive"`
	ReadOnly  bool    `json:"readOnly"`
}

func (s *Server) describeTopic(r *http.Request) (any, error) {
	ctx := r.Context()
	topic := r.PathValue("topic")
	details, err := s.adm.ListTopicsWithInternal(ctx, topic)
	if err != nil {
		return nil, errUnavailable("cluster unreachable: %v", err)
	}
	td, ok := details[topic]
	if !ok || td.Err != nil {
		return nil, errNotFound("topic %q does not exist", topic)
	}
	starts, _ := s.adm.ListStartOffsets(ctx, topic)
	ends, _ := s.adm.ListEndOffsets(ctx, topic)
	sizes := map[int32]int64{}
	// NB: a cluster that does not answer DescribeLogDirs (or denies it) shows sizes as unknown
	// (-1, with sizeError), not as zero.
	sizeErr := ""
	dirs, err := s.adm.DescribeAllLogDirs(ctx, kadm.TopicsSet{topic: nil})
	for _, ds := range dirs {
		if err == nil {
			err = ds.Error()
		}
		ds.EachPartition(func(p kadm.DescribedLogDirPartition) {
			if p.Topic == topic {
				sizes[p.Partition] = max(sizes[p.Partition], p.Size)
			}
		})
	}
	switch {
	case err != nil:
		sizeErr = "sizes unknown: DescribeLogDirs failed: " + err.Error()
	case len(sizes) == 0:
		sizeErr = "sizes unknown: the cluster reported no log dir for this topic"
	}
	var parts []partitionInfo
	var total int64
	for _, p := range td.Partitions.Sorted() {
		pi := partitionInfo{Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR), Offline: nonNil(p.OfflineReplicas), Start: -1, End: -1,
			SizeBytes: sizes[p.Partition]}
		if sizeErr != "" {
			pi.SizeBytes = -1
		}
		if p.Err != nil {
			pi.Error = p.Err.Error()
		}
		if o, ok := starts.Lookup(topic, p.Partition); ok && o.Err == nil {
			pi.Start = o.Offset
		}
		if o, ok := ends.Lookup(topic, p.Partition); ok && o.Err == nil {
			pi.End = o.Offset
		}
		total += max(pi.SizeBytes, 0)
		parts = append(parts, pi)
	}
	configs := []configEntry{}
	if rcs, err := s.adm.DescribeTopicConfigs(ctx, topic); err == nil {
		for _, rc := range rcs {
			for _, c := range rc.Configs {
				configs = append(configs, configEntry{Name: c.Key, Value: c.Value, Source: c.Source.String(),
					Sensitive: c.Sensitive, ReadOnly: false})
			}
		}
	}
	sort.Slice(configs, func(i, j int) bool { return configs[i].Name < configs[j].Name })
	rates := s.sampler.topicRates(map[string]bool{topic: true})
	if sizeErr != "" {
		total = -1
	}
	return map[string]any{"name": topic, "internal": td.IsInternal, "partitions": parts, "sizeBytes": total, "sizeError": sizeErr,
		"configs": configs, "throughput": rates[topic]}, nil
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// deleteTopic is DELETE /api/topics/{topic}?confirm={topic}: the confirm parameter must repeat the
// name, so a stray request cannot delete a topic.
func (s *Server) deleteTopic(r *http.Request) (any, error) {
	topic := r.PathValue("topic")
	if r.URL.Query().Get("confirm") != topic {
		return nil, errBadRequest("deleting topic %q needs confirm=%s (the topic's name repeated)", topic, topic)
	}
	resp, err := s.adm.DeleteTopic(r.Context(), topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return nil, topicErr(topic, err)
	}
	return map[string]any{"deleted": topic}, nil
}

// alterConfigsRequest is PUT /api/topics/{topic}/configs: set and delete (back to the default)
// incrementally. Without confirm it is a plan: the broker validates it (validate_only) and the
// answer shows each change; with confirm it is applied.
type alterConfigsRequest struct {
	Set     map[string]string `json:"set"`
	Delete  []string          `json:"delete"`
	Confirm bool              `json:"confirm"`
}

func (s *Server) alterTopicConfigs(r *http.Request) (any, error) {
	ctx := r.Context()
	topic := r.PathValue("topic")
	var req alterConfigsRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if len(req.Set)+len(req.Delete) == 0 {
		return nil, errBadRequest("nothing to change: give \"set\" or \"delete\"")
	}
	current := map[string]*string{}
	rcs, err := s.adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, topicErr(topic, err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return nil, topicErr(topic, rc.Err)
		}
		for _, c := range rc.Configs {
			current[c.Key] = c.Value
		}
	}
	var alters []kadm.AlterConfig
	type change struct {
		Name string  `json:"name"`
		From *string `json:"from"`
		To   *string `json:"to"`
	}
	var changes []change
	for k, v := range req.Set {
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
		changes = append(changes, change{k, current[k], &v})
	}
	for _, k := range req.Delete {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
		changes = append(changes, change{k, current[k], nil})
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Name < changes[j].Name })
	var resps kadm.AlterConfigsResponses
	if req.Confirm {
		resps, err = s.adm.AlterTopicConfigs(ctx, alters, topic)
	} else {
		resps, err = s.adm.ValidateAlterTopicConfigs(ctx, alters, topic)
	}
	if err != nil {
		return nil, topicErr(topic, err)
	}
	for _, resp := range resps {
		if resp.Err != nil {
			msg := resp.Err.Error()
			if resp.ErrMessage != "" {
				msg += ": " + resp.ErrMessage
			}
			return nil, &apiError{statusOf(resp.Err), "topic " + topic + ": " + msg}
		}
	}
	return map[string]any{"topic": topic, "changes": changes, "applied": req.Confirm}, nil
}
