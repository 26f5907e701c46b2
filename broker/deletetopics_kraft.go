package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/metadata"
)

// forwardDeleteTopics deletes topics, by name or by ID, through the active controller (KRaft mode),
// then waits within the request's timeout until this broker applied the removals (its replicas are
// deleted by the image applier). Internal topics are refused here, as the single node refuses them.
func (b *Broker) forwardDeleteTopics(r *kmsg.DeleteTopicsRequest) *kmsg.DeleteTopicsResponse {
	ctx, cancel := adminContext(r.TimeoutMillis)
	defer cancel()
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
	img := b.MetadataImage()
	// NB: the request is rebuilt in v6's shape (names and IDs in Topics): the controller client
	// negotiates the newest version, where v0-5's TopicNames is not encoded.
	fwd := kmsg.NewPtrDeleteTopicsRequest()
	fwd.TimeoutMillis = r.TimeoutMillis
	var order []int // per request topic: an index in refused, or -1 if forwarded
	var refused []kmsg.DeleteTopicsResponseTopic
	add := func(name *string, id [16]byte) {
		if name != nil && *name == "" {
			name = nil
		}
		shown := name
		if shown == nil {
			if t := img.TopicByID(id); t != nil {
				shown = &t.Name
			}
		}
		if shown != nil && isInternalTopic(*shown) {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic, st.TopicID = shown, id
			err := apiErr(kerr.InvalidRequest, "internal topic %s cannot be deleted", *shown)
			st.ErrorCode, st.ErrorMessage = codeFor(err), errText(err)
			refused = append(refused, st)
			order = append(order, len(refused)-1)
			return
		}
		t := kmsg.NewDeleteTopicsRequestTopic()
		t.Topic, t.TopicID = name, id
		fwd.Topics = append(fwd.Topics, t)
		order = append(order, -1)
	}
	for _, n := range r.TopicNames { // v0-5
		add(&n, [16]byte{})
	}
	for _, t := range r.Topics { // v6+
		add(t.Topic, t.TopicID)
	}
	var answers []kmsg.DeleteTopicsResponseTopic
	if len(fwd.Topics) > 0 {
		raw, err := b.forwardToController(ctx, fwd)
		if err != nil {
			err = forwardError(err)
			for _, t := range fwd.Topics {
				st := kmsg.NewDeleteTopicsResponseTopic()
				st.Topic, st.TopicID = t.Topic, t.TopicID
				st.ErrorCode, st.ErrorMessage = codeFor(err), errText(err)
				answers = append(answers, st)
			}
		} else {
			got := raw.(*kmsg.DeleteTopicsResponse)
			resp.ThrottleMillis = got.ThrottleMillis
			answers = got.Topics
		}
	}
	var deleted []metadata.Uuid
	for _, st := range answers {
		if st.ErrorCode == 0 {
			deleted = append(deleted, st.TopicID)
		}
	}
	var waitErr error
	if len(deleted) > 0 && r.TimeoutMillis > 0 {
		waitErr = b.waitApplied(ctx, func(img *metadata.Image) bool {
			for _, id := range deleted {
				if img.TopicByID(id) != nil {
					return false
				}
			}
			return true
		})
	}
	next := 0
	for _, o := range order {
		if o >= 0 {
			resp.Topics = append(resp.Topics, refused[o])
			continue
		}
		if next >= len(answers) {
			break // NB: a controller answering fewer topics than asked; nothing to pair them with
		}
		st := answers[next]
		next++
		if st.ErrorCode == 0 {
			name := ""
			if st.Topic != nil {
				name = *st.Topic
			}
			if waitErr != nil {
				err := notSeenError("the deletion of topic "+name, waitErr)
				st.ErrorCode, st.ErrorMessage = codeFor(err), errText(err)
			} else {
				b.logger.Info("deleted topic through the controller", "topic", name)
				b.deleteTopicOffsets(name)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
