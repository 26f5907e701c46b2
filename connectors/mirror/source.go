package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// NB: configs a remote topic never copies (MirrorMaker 2's config.properties.exclude default).
var excludedTopicConfigs = map[string]bool{
	"follower.replication.throttled.replicas": true, "leader.replication.throttled.replicas": true,
	"message.timestamp.difference.max.ms": true, "message.timestamp.type": true,
	"unclean.leader.election.enable": true, "min.insync.replicas": true,
}

// MirrorSourceConnector is MirrorMaker 2's MirrorSourceConnector: it finds the source topics the
// flow replicates, creates their remote topics on the target (same partition count and configs),
// follows new topics and added partitions every refresh.topics.interval.seconds, and spreads the
// source partitions over its tasks.
type MirrorSourceConnector struct {
	config map[string]string
	flow   flowConfig
	ctx    connect.ConnectorContext
	log    *slog.Logger
	admins struct{ source, target *kadm.Client }
	// sourceClient and targetClient are the clients under admins.
	sourceClient, targetClient *kgo.Client
	stop                       context.CancelFunc
	done                       chan struct{}

	mu struct {
		sync.Mutex
		partitions map[string]int32 // source topic → partition count
	}
}

// Version implements connect.Connector.
func (*MirrorSourceConnector) Version() string { return connect.Version }

// ConfigDef implements connect.Connector.
func (*MirrorSourceConnector) ConfigDef() *connect.ConfigDef { return configDef() }

// NewTask implements connect.SourceConnector.
func (*MirrorSourceConnector) NewTask() connect.SourceTask { return &sourceTask{} }

// Start implements connect.Connector: it creates the offset-syncs topic and the remote topics of
// the source topics present now, then refreshes in the background.
func (c *MirrorSourceConnector) Start(ctx connect.ConnectorContext, config map[string]string) error {
	flow, err := parseFlow(config)
	if err != nil {
		return err
	}
	c.config, c.flow, c.ctx, c.log = config, flow, ctx, contextLogger(ctx)
	src, err := flow.sourceClient()
	if err != nil {
		return fmt.Errorf("mirror: source client: %w", err)
	}
	tgt, err := flow.targetClient()
	if err != nil {
		src.Close()
		return fmt.Errorf("mirror: target client: %w", err)
	}
	c.admins.source, c.admins.target = kadm.NewClient(src), kadm.NewClient(tgt)
	c.sourceClient, c.targetClient = src, tgt
	runCtx, cancel := context.WithCancel(context.Background())
	c.stop, c.done = cancel, make(chan struct{})
	syncAdm := c.admins.source
	if flow.offsetSyncsOnTarget {
		syncAdm = c.admins.target
	}
	if err := createTopic(runCtx, syncAdm, OffsetSyncsTopic(flow.targetAlias), 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}); err != nil {
		c.log.Warn("mirror: creating the offset-syncs topic", "error", err)
	}
	if _, err := c.refresh(runCtx); err != nil {
		c.log.Warn("mirror: first topic refresh", "error", err)
	}
	go c.refreshLoop(runCtx)
	return nil
}

func contextLogger(ctx any) *slog.Logger {
	if l, ok := ctx.(connect.ContextLogger); ok {
		return l.Logger()
	}
	return slog.Default()
}

func (c *MirrorSourceConnector) refreshLoop(ctx context.Context) {
	defer close(c.done)
	tick := time.NewTicker(c.flow.refreshTopics)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		changed, err := c.refresh(ctx)
		if err != nil {
			c.log.Warn("mirror: topic refresh", "error", err)
		}
		if changed {
			c.ctx.RequestTaskReconfiguration()
		}
	}
}

// refresh lists the source topics, creates missing remote topics and partitions, and reports
// whether the set of replicated partitions changed.
func (c *MirrorSourceConnector) refresh(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	topics, err := partitionCounts(ctx, c.sourceClient)
	if err != nil {
		return false, fmt.Errorf("listing source topics: %w", err)
	}
	want := map[string]int32{}
	for name, n := range topics {
		if c.flow.replicates(name) && n > 0 {
			want[name] = n
		}
	}
	if err := c.ensureRemoteTopics(ctx, want); err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := !maps.Equal(want, c.mu.partitions)
	c.mu.partitions = want
	return changed, nil
}

// ensureRemoteTopics creates each remote topic with its source topic's partition count and
// configs, and adds partitions to a remote topic that has fewer.
func (c *MirrorSourceConnector) ensureRemoteTopics(ctx context.Context, want map[string]int32) error {
	if len(want) == 0 {
		return nil
	}
	remote := map[string]string{}
	for t := range want {
		remote[t] = c.flow.policy.FormatRemoteTopic(c.flow.sourceAlias, t)
	}
	existing, err := partitionCounts(ctx, c.targetClient)
	if err != nil {
		return fmt.Errorf("listing target topics: %w", err)
	}
	for t, n := range want {
		have, ok := existing[remote[t]]
		switch {
		case ok:
			if have < n {
				if _, err := c.admins.target.UpdatePartitions(ctx, int(n), remote[t]); err != nil {
					return fmt.Errorf("adding partitions to %s: %w", remote[t], err)
				}
				c.log.Info("mirror: added partitions", "topic", remote[t], "partitions", n)
			}
		default:
			configs := map[string]*string{}
			if c.flow.syncTopicConfigs {
				configs = c.sourceTopicConfigs(ctx, t)
			}
			if err := createTopic(ctx, c.admins.target, remote[t], n, c.flow.replicationFactor, configs); err != nil {
				return fmt.Errorf("creating %s: %w", remote[t], err)
			}
			c.log.Info("mirror: created remote topic", "topic", remote[t], "partitions", n)
		}
	}
	return nil
}

// sourceTopicConfigs returns the configs set on a source topic (not defaults), less the excluded.
func (c *MirrorSourceConnector) sourceTopicConfigs(ctx context.Context, topic string) map[string]*string {
	out := map[string]*string{}
	rcs, err := c.admins.source.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		c.log.Warn("mirror: describing topic configs", "topic", topic, "error", err)
		return out
	}
	for _, rc := range rcs {
		for _, cfg := range rc.Configs {
			if cfg.Source == kmsg.ConfigSourceDynamicTopicConfig && !excludedTopicConfigs[cfg.Key] && cfg.Value != nil {
				out[cfg.Key] = cfg.Value
			}
		}
	}
	return out
}

// partitionCounts lists every topic of cl's cluster with its partition count. NB: a direct
// Metadata request, not kadm's ListTopics: kgo's metadata cache kept answering
// UNKNOWN_TOPIC_OR_PARTITION for a topic it had been asked about before it was created.
func partitionCounts(ctx context.Context, cl *kgo.Client) (map[string]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int32, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic != nil && t.ErrorCode == 0 && !t.IsInternal {
			out[*t.Topic] = int32(len(t.Partitions))
		}
	}
	return out, nil
}

func createTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32, rf int16, configs map[string]*string) error {
	resp, err := adm.CreateTopic(ctx, partitions, rf, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err == kerr.TopicAlreadyExists {
		return nil
	}
	return err
}

// TaskConfigs implements connect.Connector: the replicated partitions, round-robin over at most
// maxTasks tasks, each listed in task.assigned.partitions as topic-partition.
func (c *MirrorSourceConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	c.mu.Lock()
	var tps []string
	for t, n := range c.mu.partitions {
		for p := range n {
			tps = append(tps, t+"-"+strconv.Itoa(int(p)))
		}
	}
	c.mu.Unlock()
	slices.Sort(tps)
	if maxTasks < 1 {
		maxTasks = 1
	}
	n := min(maxTasks, len(tps))
	if n == 0 {
		return []map[string]string{}, nil
	}
	lists := make([][]string, n)
	for i, tp := range tps {
		lists[i%n] = append(lists[i%n], tp)
	}
	out := make([]map[string]string, n)
	for i := range lists {
		cfg := maps.Clone(c.config)
		cfg[ConfigAssignedPartitions] = strings.Join(lists[i], ",")
		out[i] = cfg
	}
	return out, nil
}

// Stop implements connect.Connector.
func (c *MirrorSourceConnector) Stop() error {
	if c.stop != nil {
		c.stop()
		<-c.done
	}
	if c.admins.source != nil {
		c.admins.source.Close()
		c.admins.target.Close()
	}
	return nil
}

// parseAssigned parses task.assigned.partitions (topic-partition, comma-separated).
func parseAssigned(s string) (map[string][]int32, error) {
	out := map[string][]int32{}
	for _, tp := range splitList(s) {
		i := strings.LastIndexByte(tp, '-')
		if i <= 0 {
			return nil, fmt.Errorf("%w: %s: %q is not topic-partition", connect.ErrInvalidConfig, ConfigAssignedPartitions, tp)
		}
		p, err := strconv.ParseInt(tp[i+1:], 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("%w: %s: %q is not topic-partition", connect.ErrInvalidConfig, ConfigAssignedPartitions, tp)
		}
		out[tp[:i]] = append(out[tp[:i]], int32(p))
	}
	return out, nil
}
