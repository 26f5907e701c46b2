package controller

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// configResource checks a config resource named in a request: a topic that exists, or a broker given
// by ID ("" for the cluster default).
func (c *Controller) configResource(typ kmsg.ConfigResourceType, name string) (metadata.ConfigResource, int16, error) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		if c.img().Topic(name) == nil {
			return metadata.ConfigResource{}, kerr.UnknownTopicOrPartition.Code, fmt.Errorf("topic %q does not exist", name)
		}
		return metadata.TopicResource(name), 0, nil
	case kmsg.ConfigResourceTypeBroker:
		if name != "" {
			if _, err := strconv.ParseInt(name, 10, 32); err != nil {
				return metadata.ConfigResource{}, kerr.InvalidRequest.Code, fmt.Errorf("broker resource name %q is not a broker ID", name)
			}
		}
		return metadata.ConfigResource{Type: metadata.ResourceBroker, Name: name}, 0, nil
	default:
		return metadata.ConfigResource{}, kerr.InvalidRequest.Code, fmt.Errorf("unsupported config resource type %d", typ)
	}
}

func validateConfigValue(res metadata.ConfigResource, key, value string) error {
	if res.Type == metadata.ResourceTopic {
		return config.ValidateTopicConfig(key, value)
	}
	return nil
}

// configOutcome emits a resource's records (unless validateOnly), or turns its error into the reply's
// code and message. A non-nil third result is internal: the request fails.
func (c *Controller) configOutcome(recs []metadata.Record, code int16, err error, validateOnly bool) (int16, *string, error) {
	if err != nil {
		return code, strp(err.Error()), nil
	}
	if !validateOnly {
		for _, rec := range recs {
			if err := c.emit(rec); err != nil {
				return 0, nil, err
			}
		}
	}
	return 0, nil, nil
}

func (c *Controller) incrementalAlterConfigs(req *kmsg.IncrementalAlterConfigsRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrIncrementalAlterConfigsResponse()
	for _, r := range req.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
		recs, code, err := c.incrementalRecords(r)
		var internal error
		rr.ErrorCode, rr.ErrorMessage, internal = c.configOutcome(recs, code, err, req.ValidateOnly)
		if internal != nil {
			return nil, internal
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp, nil
}

func (c *Controller) incrementalRecords(r kmsg.IncrementalAlterConfigsRequestResource) ([]metadata.Record, int16, error) {
	res, code, err := c.configResource(r.ResourceType, r.ResourceName)
	if err != nil {
		return nil, code, err
	}
	var recs []metadata.Record
	seen := map[string]bool{}
	for _, cfg := range r.Configs {
		if seen[cfg.Name] {
			return nil, kerr.InvalidRequest.Code, fmt.Errorf("config %s appears twice", cfg.Name)
		}
		seen[cfg.Name] = true
		cur, has := c.img().Config(res, cfg.Name)
		var value *string
		switch cfg.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if cfg.Value == nil {
				return nil, kerr.InvalidRequest.Code, fmt.Errorf("null value for SET of %s", cfg.Name)
			}
			value = cfg.Value
		case kmsg.IncrementalAlterConfigOpDelete:
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if res.Type == metadata.ResourceTopic && !isListConfig(cfg.Name) {
				return nil, kerr.InvalidConfig.Code, fmt.Errorf("config %s is not a list: APPEND and SUBTRACT do not apply", cfg.Name)
			}
			var list []string
			if has {
				list = normalizeList(cur)
			}
			var arg []string
			if cfg.Value != nil {
				arg = normalizeList(*cfg.Value)
			}
			for _, a := range arg {
				if cfg.Op == kmsg.IncrementalAlterConfigOpAppend {
					if !slices.Contains(list, a) {
						list = append(list, a)
					}
				} else {
					list = slices.DeleteFunc(list, func(x string) bool { return x == a })
				}
			}
			if len(list) > 0 {
				value = strp(strings.Join(list, ","))
			}
		default:
			return nil, kerr.InvalidRequest.Code, fmt.Errorf("unknown config operation %d for %s", cfg.Op, cfg.Name)
		}
		if value != nil {
			if err := validateConfigValue(res, cfg.Name, *value); err != nil {
				return nil, kerr.InvalidConfig.Code, err
			}
		} else if !has {
			continue // deleting what is not set
		}
		recs = append(recs, &metadata.ConfigRecord{ResourceType: res.Type, ResourceName: res.Name, Name: cfg.Name, Value: value})
	}
	return recs, 0, nil
}

func isListConfig(name string) bool {
	for _, d := range config.TopicDefs() {
		if d.Name == name {
			return d.Kind == config.KindList
		}
	}
	return false
}

// alterConfigs is the legacy AlterConfigs: the given configs replace every config of the resource.
func (c *Controller) alterConfigs(req *kmsg.AlterConfigsRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrAlterConfigsResponse()
	for _, r := range req.Resources {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
		recs, code, err := c.replaceRecords(r)
		var internal error
		rr.ErrorCode, rr.ErrorMessage, internal = c.configOutcome(recs, code, err, req.ValidateOnly)
		if internal != nil {
			return nil, internal
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp, nil
}

func (c *Controller) replaceRecords(r kmsg.AlterConfigsRequestResource) ([]metadata.Record, int16, error) {
	res, code, err := c.configResource(r.ResourceType, r.ResourceName)
	if err != nil {
		return nil, code, err
	}
	want := map[string]string{}
	for _, cfg := range r.Configs {
		if cfg.Value == nil {
			return nil, kerr.InvalidRequest.Code, fmt.Errorf("null value for %s", cfg.Name)
		}
		if _, dup := want[cfg.Name]; dup {
			return nil, kerr.InvalidRequest.Code, fmt.Errorf("config %s appears twice", cfg.Name)
		}
		if err := validateConfigValue(res, cfg.Name, *cfg.Value); err != nil {
			return nil, kerr.InvalidConfig.Code, err
		}
		want[cfg.Name] = *cfg.Value
	}
	var recs []metadata.Record
	cur := c.img().Configs(res)
	var drop []string
	for k := range cur {
		if _, keep := want[k]; !keep {
			drop = append(drop, k)
		}
	}
	slices.Sort(drop)
	for _, k := range drop {
		recs = append(recs, &metadata.ConfigRecord{ResourceType: res.Type, ResourceName: res.Name, Name: k})
	}
	for _, cfg := range r.Configs {
		if v, ok := cur[cfg.Name]; ok && v == *cfg.Value {
			continue
		}
		recs = append(recs, &metadata.ConfigRecord{ResourceType: res.Type, ResourceName: res.Name, Name: cfg.Name, Value: cfg.Value})
	}
	return recs, 0, nil
}

func (c *Controller) allocateProducerIDs(req *kmsg.AllocateProducerIDsRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrAllocateProducerIDsResponse()
	if code := c.checkBrokerEpoch(req.BrokerID, req.BrokerEpoch); code != 0 {
		resp.ErrorCode = code
		return resp, nil
	}
	start := c.img().NextProducerID()
	if start > math.MaxInt64-producerIDBlockSize {
		resp.ErrorCode = kerr.UnknownServerError.Code
		return resp, nil
	}
	resp.ProducerIDStart = start
	resp.ProducerIDLen = producerIDBlockSize
	return resp, c.emit(&metadata.ProducerIdsRecord{BrokerID: req.BrokerID, BrokerEpoch: req.BrokerEpoch, NextProducerID: start + producerIDBlockSize})
}
