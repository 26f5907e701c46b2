package broker

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// DescribeConfigs v0-4.
	register(32, 0, 4, func(b *Broker, _ *server.Conn, r *kmsg.DescribeConfigsRequest) server.Response {
		return server.Response{Msg: b.handleDescribeConfigs(r)}
	})
	// AlterConfigs v0-2.
	register(33, 0, 2, func(b *Broker, _ *server.Conn, r *kmsg.AlterConfigsRequest) server.Response {
		return server.Response{Msg: b.handleAlterConfigs(r)}
	})
	// IncrementalAlterConfigs v0-1.
	register(44, 0, 1, func(b *Broker, _ *server.Conn, r *kmsg.IncrementalAlterConfigsRequest) server.Response {
		return server.Response{Msg: b.handleIncrementalAlterConfigs(r)}
	})
}

const (
	resourceTopic  = 2
	resourceBroker = 4
)

func (b *Broker) handleDescribeConfigs(r *kmsg.DescribeConfigsRequest) *kmsg.DescribeConfigsResponse {
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range r.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		want := func(name string) bool {
			if rr.ConfigNames == nil {
				return true
			}
			for _, n := range rr.ConfigNames {
				if n == name {
					return true
				}
			}
			return false
		}
		add := func(name, value string, source int8, readOnly, sensitive bool, kind config.TopicKind, doc string, synonyms []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym) {
			if !want(name) {
				return
			}
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name = name
			v := value
			c.Value = &v
			c.ReadOnly = readOnly
			c.Source = kmsg.ConfigSource(source)
			c.IsDefault = source == 5
			c.IsSensitive = sensitive
			c.ConfigType = kmsg.ConfigType(configType(kind))
			if r.IncludeDocumentation && doc != "" {
				c.Documentation = &doc
			}
			if r.IncludeSynonyms {
				c.ConfigSynonyms = synonyms
			}
			sr.Configs = append(sr.Configs, c)
		}
		switch rr.ResourceType {
		case resourceTopic:
			b.mu.RLock()
			t := b.topics[rr.ResourceName]
			var overrides map[string]string
			if t != nil {
				overrides = cloneMap(t.configs)
			}
			b.mu.RUnlock()
			if t == nil {
				sr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				sr.ErrorMessage = errMsg(fmt.Sprintf("topic %q does not exist", rr.ResourceName))
				break
			}
			tc := config.Topic{Overrides: overrides, Broker: b.cfg}
			kinds := map[string]config.TopicKind{}
			for _, d := range config.TopicDefs() {
				kinds[d.Name] = d.Kind
			}
			for _, e := range tc.Entries() {
				src := b.configSource(tc, e)
				var syn []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
				if e.Explicit {
					s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					s.Name, s.Value, s.Source = e.Name, errMsg(e.Value), kmsg.ConfigSource(1)
					syn = append(syn, s)
				}
				if key, set := tc.BrokerSourceFor(e.Name); set {
					s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					s.Name, s.Value, s.Source = key, errMsg(b.cfg.Raw[key]), kmsg.ConfigSource(4)
					syn = append(syn, s)
				}
				add(e.Name, e.Value, src, false, false, kinds[e.Name], e.Doc, syn)
			}
		case resourceBroker:
			if rr.ResourceName != "" && rr.ResourceName != b.nodeIDString() {
				sr.ErrorCode = kerr.InvalidRequest.Code
				sr.ErrorMessage = errMsg(fmt.Sprintf("broker %q is not this broker (%d)", rr.ResourceName, b.cfg.NodeID))
				break
			}
			for _, e := range b.cfg.BrokerEntries() {
				src := int8(5)
				if e.Explicit {
					src = 4
				}
				add(e.Name, e.Value, src, true, false, config.KindString, "", nil)
			}
		default:
			sr.ErrorCode = kerr.InvalidRequest.Code
			sr.ErrorMessage = errMsg(fmt.Sprintf("resource type %d is not supported", rr.ResourceType))
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}
func configType(k config.TopicKind) int8 {
	switch k {
	case config.KindBool:
		return 1
	case config.KindString:
		return 2
	case config.KindInt:
		return 3
	case config.KindLong:
		return 5
	case config.KindDouble:
		return 6
	case config.KindList:
		return 7
	}
	return 0
}
func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
func (b *Broker) handleAlterConfigs(r *kmsg.AlterConfigsRequest) *kmsg.AlterConfigsResponse {
	if b.forwardsAdmin() {
		return b.forwardAlterConfigs(r)
	}
	return b.handleAlterConfigsLocal(r)
}

// handleAlterConfigsLocal applies AlterConfigs to this broker's own registry (the single node).
func (b *Broker) handleAlterConfigsLocal(r *kmsg.AlterConfigsRequest) *kmsg.AlterConfigsResponse {
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range r.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		err := alterResource(int8(rr.ResourceType), func() error {
			m := map[string]string{}
			for _, c := range rr.Configs {
				if c.Value != nil {
					m[c.Name] = *c.Value
				}
			}
			return b.setTopicConfigs(rr.ResourceName, m, r.ValidateOnly)
		})
		if err != nil {
			sr.ErrorCode = codeFor(err)
			sr.ErrorMessage = errText(err)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}

// alterResource applies a config change to a topic resource; other resource types are refused.
func alterResource(resourceType int8, alterTopic func() error) error {
	switch resourceType {
	case resourceTopic:
		return alterTopic()
	case resourceBroker:
		return apiErr(kerr.InvalidRequest, "dynamic broker configs are not supported; set them in server.properties")
	}
	return apiErr(kerr.InvalidRequest, "resource type %d is not supported", resourceType)
}
func (b *Broker) handleIncrementalAlterConfigs(r *kmsg.IncrementalAlterConfigsRequest) *kmsg.IncrementalAlterConfigsResponse {
	if b.forwardsAdmin() {
		return b.forwardIncrementalAlterConfigs(r)
	}
	return b.handleIncrementalAlterConfigsLocal(r)
}

// handleIncrementalAlterConfigsLocal applies IncrementalAlterConfigs to this broker's own registry.
func (b *Broker) handleIncrementalAlterConfigsLocal(r *kmsg.IncrementalAlterConfigsRequest) *kmsg.IncrementalAlterConfigsResponse {
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range r.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		err := alterResource(int8(rr.ResourceType), func() error { return b.incrementalTopicConfigs(rr, r.ValidateOnly) })
		if err != nil {
			sr.ErrorCode = codeFor(err)
			sr.ErrorMessage = errText(err)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}
func (b *Broker) incrementalTopicConfigs(rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) error {
	b.mu.RLock()
	t := b.topics[rr.ResourceName]
	var m map[string]string
	if t != nil {
		m = cloneMap(t.configs)
	}
	b.mu.RUnlock()
	if t == nil {
		return apiErr(kerr.UnknownTopicOrPartition, "topic %q does not exist", rr.ResourceName)
	}
	tc := config.Topic{Overrides: m, Broker: b.cfg}
	for _, c := range rr.Configs {
		val := ""
		if c.Value != nil {
			val = *c.Value
		}
		switch c.Op {
		case 0: // SET
			m[c.Name] = val
		case 1: // DELETE
			delete(m, c.Name)
		case 2, 3: // APPEND, SUBTRACT (list configs)
			if c.Name != "cleanup.policy" {
				return apiErr(kerr.InvalidConfig, "config %s is not a list; APPEND/SUBTRACT apply to list configs only", c.Name)
			}
			cur := splitList(tc.Get(c.Name))
			var out []string
			if c.Op == 2 {
				out = cur
				for _, v := range splitList(val) {
					if !contains(out, v) {
						out = append(out, v)
					}
				}
			} else {
				for _, v := range cur {
					if !contains(splitList(val), v) {
						out = append(out, v)
					}
				}
			}
			m[c.Name] = strings.Join(out, ",")
		default:
			return apiErr(kerr.InvalidRequest, "unknown config operation %d", c.Op)
		}
	}
	return b.setTopicConfigs(rr.ResourceName, m, validateOnly)
}

// setTopicConfigs validates and installs a topic's complete override set.
func (b *Broker) setTopicConfigs(name string, overrides map[string]string, validateOnly bool) error {
	for k, v := range overrides {
		if err := config.ValidateTopicConfig(k, v); err != nil {
			return apiErr(kerr.InvalidConfig, "%v", err)
		}
	}
	b.mu.Lock()
	t := b.topics[name]
	if t == nil {
		b.mu.Unlock()
		return apiErr(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	if validateOnly {
		b.mu.Unlock()
		return nil
	}
	t.configs = overrides
	lc, rc := b.logConfig(overrides), b.replicationConfig(overrides)
	for _, p := range t.partitions {
		if p == nil {
			continue // a hole of a KRaft image topic: hosted elsewhere
		}
		p.log.SetConfig(lc)
		p.state.SetConfig(rc)
	}
	b.mu.Unlock()
	if err := b.saveMeta(false); err != nil {
		b.repeats.Error("persisting topic metadata failed", "err", err)
	}
	b.logger.Info("altered topic configs", "topic", name, "configs", overrides)
	return nil
}
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
