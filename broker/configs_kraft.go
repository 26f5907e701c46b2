package broker

import (
	"context"
	"maps"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/metadata"
)

// Topic configs of a KRaft broker live in the metadata image: AlterConfigs and
// IncrementalAlterConfigs on topic resources go to the active controller, which validates and
// commits them; this broker then waits (defaultAdminTimeout) until it applied them, so its open
// partitions run with the new configs (registry_kraft.go) and DescribeConfigs shows them. Other
// resources (broker configs) are answered here with Kafka's error for a resource type not altered.

// configAPI is what forwardConfigs needs of one of the two config APIs: Q is its request resource,
// A its response resource.
type configAPI[Q, A any] struct {
	resourceType func(Q) int8
	// forward sends the topic resources to the controller and returns their answers in order.
	forward func(ctx context.Context, topics []Q) ([]A, error)
	// failed answers resource q with err: a topic whose forward failed, or a resource type this
	// broker does not alter (unsupportedResource).
	failed func(q Q, err error) A
	// result returns answer a's resource name and a pointer to its error code and message.
	result func(a *A) (name string, code *int16, msg **string)
	// applied reports whether a topic's configs (have) show q's change.
	applied func(q Q, have map[string]string) bool
}

// forwardConfigs serves a config request's resources: the topic ones through the controller
// (waiting until this broker applied them unless validateOnly), the others locally, answered in
// the request's order.
func forwardConfigs[Q, A any](b *Broker, all []Q, validateOnly bool, api configAPI[Q, A]) []A {
	var topics, others []Q
	for _, q := range all {
		if api.resourceType(q) == resourceTopic {
			topics = append(topics, q)
		} else {
			others = append(others, q)
		}
	}
	var forwarded, locals []A
	if len(topics) > 0 {
		ctx, cancel := adminContext(0)
		defer cancel()
		var err error
		forwarded, err = api.forward(ctx, topics)
		if err != nil || len(forwarded) != len(topics) {
			if err == nil {
				err = errShortAnswer(len(forwarded), len(topics))
			}
			forwarded = forwarded[:0]
			for _, q := range topics {
				forwarded = append(forwarded, api.failed(q, forwardError(err)))
			}
		} else if !validateOnly {
			awaitConfigs(ctx, b, topics, forwarded, api)
		}
	}
	for _, q := range others {
		locals = append(locals, api.failed(q, unsupportedResource(api.resourceType(q))))
	}
	out := make([]A, 0, len(all))
	for _, q := range all {
		if api.resourceType(q) == resourceTopic {
			out, forwarded = append(out, forwarded[0]), forwarded[1:]
		} else if len(locals) > 0 {
			out, locals = append(out, locals[0]), locals[1:]
		}
	}
	return out
}

// awaitConfigs waits until this broker applied every successful topic change; the ones it did not
// see in time become REQUEST_TIMED_OUT.
func awaitConfigs[Q, A any](ctx context.Context, b *Broker, topics []Q, answers []A, api configAPI[Q, A]) {
	var pending []int
	for i := range answers {
		if _, code, _ := api.result(&answers[i]); *code == 0 {
			pending = append(pending, i)
		}
	}
	if len(pending) == 0 {
		return
	}
	err := b.waitApplied(ctx, func(img *metadata.Image) bool {
		for _, i := range pending {
			name, _, _ := api.result(&answers[i])
			if !api.applied(topics[i], img.Configs(metadata.TopicResource(name))) {
				return false
			}
		}
		return true
	})
	for _, i := range pending {
		name, code, msg := api.result(&answers[i])
		if err != nil {
			e := notSeenError("the config change of topic "+name, err)
			*code, *msg = codeFor(e), errText(e)
			continue
		}
		b.logger.Info("altered topic configs through the controller", "topic", name)
	}
}

// forwardAlterConfigs serves AlterConfigs on a KRaft broker: it replaces a topic's whole set.
func (b *Broker) forwardAlterConfigs(r *kmsg.AlterConfigsRequest) *kmsg.AlterConfigsResponse {
	type (
		Q = kmsg.AlterConfigsRequestResource
		A = kmsg.AlterConfigsResponseResource
	)
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	resp.Resources = forwardConfigs(b, r.Resources, r.ValidateOnly, configAPI[Q, A]{
		resourceType: func(q Q) int8 { return int8(q.ResourceType) },
		forward: func(ctx context.Context, topics []Q) ([]A, error) {
			fwd := *r
			fwd.Resources = topics
			raw, err := b.forwardToController(ctx, &fwd)
			if err != nil {
				return nil, err
			}
			return raw.(*kmsg.AlterConfigsResponse).Resources, nil
		},
		failed: func(q Q, err error) A {
			a := kmsg.NewAlterConfigsResponseResource()
			a.ResourceType, a.ResourceName = q.ResourceType, q.ResourceName
			a.ErrorCode, a.ErrorMessage = codeFor(err), errText(err)
			return a
		},
		result: func(a *A) (string, *int16, **string) { return a.ResourceName, &a.ErrorCode, &a.ErrorMessage },
		applied: func(q Q, have map[string]string) bool {
			want := map[string]string{}
			for _, c := range q.Configs {
				if c.Value != nil {
					want[c.Name] = *c.Value
				}
			}
			return maps.Equal(have, want)
		},
	})
	return resp
}

// forwardIncrementalAlterConfigs serves IncrementalAlterConfigs on a KRaft broker.
func (b *Broker) forwardIncrementalAlterConfigs(r *kmsg.IncrementalAlterConfigsRequest) *kmsg.IncrementalAlterConfigsResponse {
	type (
		Q = kmsg.IncrementalAlterConfigsRequestResource
		A = kmsg.IncrementalAlterConfigsResponseResource
	)
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	resp.Resources = forwardConfigs(b, r.Resources, r.ValidateOnly, configAPI[Q, A]{
		resourceType: func(q Q) int8 { return int8(q.ResourceType) },
		forward: func(ctx context.Context, topics []Q) ([]A, error) {
			fwd := *r
			fwd.Resources = topics
			raw, err := b.forwardToController(ctx, &fwd)
			if err != nil {
				return nil, err
			}
			return raw.(*kmsg.IncrementalAlterConfigsResponse).Resources, nil
		},
		failed: func(q Q, err error) A {
			a := kmsg.NewIncrementalAlterConfigsResponseResource()
			a.ResourceType, a.ResourceName = q.ResourceType, q.ResourceName
			a.ErrorCode, a.ErrorMessage = codeFor(err), errText(err)
			return a
		},
		result:  func(a *A) (string, *int16, **string) { return a.ResourceName, &a.ErrorCode, &a.ErrorMessage },
		applied: func(q Q, have map[string]string) bool { return incrementalApplied(q.Configs, have) },
	})
	return resp
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
