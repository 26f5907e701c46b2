package broker

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/metadata"
)

// Topic configs of a KRaft broker live in the metadata image: AlterConfigs and
// IncrementalAlterConfigs on topic resources go to the active controller, which validates and
// commits them; this broker then waits (defaultAdminTimeout) until it applied them, so its open
// partitions run with the new configs (registry_kraft.go) and DescribeConfigs shows them. Other
// resources (broker configs) are answered locally, as on the single node.

// forwardAlterConfigs serves AlterConfigs on a KRaft broker.
func (b *Broker) forwardAlterConfigs(r *kmsg.AlterConfigsRequest) *kmsg.AlterConfigsResponse {
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	fwd := *r
	fwd.Resources = nil
	for _, rr := range r.Resources {
		if rr.ResourceType == resourceTopic {
			fwd.Resources = append(fwd.Resources, rr)
		}
	}
	local := *r
	local.Resources = slices.DeleteFunc(slices.Clone(r.Resources), func(rr kmsg.AlterConfigsRequestResource) bool { return rr.ResourceType == resourceTopic })
	var forwarded []kmsg.AlterConfigsResponseResource
	if len(fwd.Resources) > 0 {
		ctx, cancel := adminContext(0)
		defer cancel()
		raw, err := b.forward(ctx, &fwd)
		if err != nil {
			err = forwardError(err)
			for _, rr := range fwd.Resources {
				sr := kmsg.NewAlterConfigsResponseResource()
				sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
				sr.ErrorCode, sr.ErrorMessage = codeFor(err), errText(err)
				forwarded = append(forwarded, sr)
			}
		} else {
			forwarded = raw.(*kmsg.AlterConfigsResponse).Resources
			if !r.ValidateOnly {
				b.awaitConfigs(ctx, len(forwarded), func(i int) (string, int16, *int16, **string) {
					return forwarded[i].ResourceName, forwarded[i].ErrorCode, &forwarded[i].ErrorCode, &forwarded[i].ErrorMessage
				}, func(i int, have map[string]string) bool {
					want := map[string]string{}
					for _, c := range fwd.Resources[i].Configs {
						if c.Value != nil {
							want[c.Name] = *c.Value
						}
					}
					return mapsEqual(have, want)
				})
			}
		}
	}
	var locals []kmsg.AlterConfigsResponseResource
	if len(local.Resources) > 0 {
		locals = b.handleAlterConfigsLocal(&local).Resources
	}
	// NB: answered in the request's order.
	for _, rr := range r.Resources {
		if rr.ResourceType == resourceTopic && len(forwarded) > 0 {
			resp.Resources, forwarded = append(resp.Resources, forwarded[0]), forwarded[1:]
		} else if rr.ResourceType != resourceTopic && len(locals) > 0 {
			resp.Resources, locals = append(resp.Resources, locals[0]), locals[1:]
		}
	}
	return resp
}

// forwardIncrementalAlterConfigs serves IncrementalAlterConfigs on a KRaft broker.
func (b *Broker) forwardIncrementalAlterConfigs(r *kmsg.IncrementalAlterConfigsRequest) *kmsg.IncrementalAlterConfigsResponse {
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	fwd := *r
	fwd.Resources = nil
	for _, rr := range r.Resources {
		if rr.ResourceType == resourceTopic {
			fwd.Resources = append(fwd.Resources, rr)
		}
	}
	local := *r
	local.Resources = slices.DeleteFunc(slices.Clone(r.Resources), func(rr kmsg.IncrementalAlterConfigsRequestResource) bool {
		return rr.ResourceType == resourceTopic
	})
	var forwarded []kmsg.IncrementalAlterConfigsResponseResource
	if len(fwd.Resources) > 0 {
		ctx, cancel := adminContext(0)
		defer cancel()
		raw, err := b.forward(ctx, &fwd)
		if err != nil {
			err = forwardError(err)
			for _, rr := range fwd.Resources {
				sr := kmsg.NewIncrementalAlterConfigsResponseResource()
				sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
				sr.ErrorCode, sr.ErrorMessage = codeFor(err), errText(err)
				forwarded = append(forwarded, sr)
			}
		} else {
			forwarded = raw.(*kmsg.IncrementalAlterConfigsResponse).Resources
			if !r.ValidateOnly {
				b.awaitConfigs(ctx, len(forwarded), func(i int) (string, int16, *int16, **string) {
					return forwarded[i].ResourceName, forwarded[i].ErrorCode, &forwarded[i].ErrorCode, &forwarded[i].ErrorMessage
				}, func(i int, have map[string]string) bool {
					return incrementalApplied(fwd.Resources[i].Configs, have)
				})
			}
		}
	}
	var locals []kmsg.IncrementalAlterConfigsResponseResource
	if len(local.Resources) > 0 {
		locals = b.handleIncrementalAlterConfigsLocal(&local).Resources
	}
	for _, rr := range r.Resources {
		if rr.ResourceType == resourceTopic && len(forwarded) > 0 {
			resp.Resources, forwarded = append(resp.Resources, forwarded[0]), forwarded[1:]
		} else if rr.ResourceType != resourceTopic && len(locals) > 0 {
			resp.Resources, locals = append(resp.Resources, locals[0]), locals[1:]
		}
	}
	return resp
}

// awaitConfigs waits until this broker applied every successful resource i of n (applied(i, the
// image's configs of the topic) is true); it turns the ones it did not see in time into
// REQUEST_TIMED_OUT. at(i) returns resource i's name, error code and where to write an error.
func (b *Broker) awaitConfigs(ctx context.Context, n int, at func(int) (string, int16, *int16, **string), applied func(int, map[string]string) bool) {
	var pending []int
	for i := range n {
		if _, code, _, _ := at(i); code == 0 {
			pending = append(pending, i)
		}
	}
	if len(pending) == 0 {
		return
	}
	err := b.waitApplied(ctx, func(img *metadata.Image) bool {
		for _, i := range pending {
			name, _, _, _ := at(i)
			if !applied(i, img.Configs(metadata.TopicResource(name))) {
				return false
			}
		}
		return true
	})
	for _, i := range pending {
		name, _, code, msg := at(i)
		if err != nil {
			e := notSeenError("the config change of topic "+name, err)
			*code, *msg = codeFor(e), errText(e)
			continue
		}
		b.logger.Info("altered topic configs through the controller", "topic", name)
	}
}

// incrementalApplied reports whether have (a topic's configs) shows every operation of ops.
func incrementalApplied(ops []kmsg.IncrementalAlterConfigsRequestResourceConfig, have map[string]string) bool {
	for _, op := range ops {
		val := ""
		if op.Value != nil {
			val = *op.Value
		}
		cur, set := have[op.Name]
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if !set || cur != val {
				return false
			}
		case kmsg.IncrementalAlterConfigOpDelete:
			if set {
				return false
			}
		case kmsg.IncrementalAlterConfigOpAppend:
			for _, v := range splitList(val) {
				if !contains(splitList(cur), v) {
					return false
				}
			}
		case kmsg.IncrementalAlterConfigOpSubtract:
			for _, v := range splitList(val) {
				if contains(splitList(cur), v) {
					return false
				}
			}
		}
	}
	return true
}

// mapsEqual compares two config maps (nil and empty are equal).
func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
