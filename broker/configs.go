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
	return b.forwardAlterConfigs(r) // configs_kraft.go
}

// unsupportedResource is the answer to a config change of a resource other than a topic (forwarded
// to the controller): dynamic broker configs are not supported.
func unsupportedResource(resourceType int8) error {
	if resourceType == resourceBroker {
		return apiErr(kerr.InvalidRequest, "dynamic broker configs are not supported; set them in server.properties")
	}
	return apiErr(kerr.InvalidRequest, "resource type %d is not supported", resourceType)
}
func (b *Broker) handleIncrementalAlterConfigs(r *kmsg.IncrementalAlterConfigsRequest) *kmsg.IncrementalAlterConfigsResponse {
	return b.forwardIncrementalAlterConfigs(r) // configs_kraft.go
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
