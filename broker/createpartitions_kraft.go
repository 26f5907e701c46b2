package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/metadata"
)

// forwardCreatePartitions adds partitions through the active controller (KRaft mode: placement over
// the unfenced brokers, or the request's assignment), then waits within the request's timeout until
// this broker applied the new partition counts.
func (b *Broker) forwardCreatePartitions(r *kmsg.CreatePartitionsRequest) *kmsg.CreatePartitionsResponse {
	ctx, cancel := adminContext(r.TimeoutMillis)
	defer cancel()
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
	fwd := *r
	var raw kmsg.Response
	err := b.checkOpenFileRoom(b.newReplicas(r))
	if err == nil {
		raw, err = b.forwardToController(ctx, &fwd)
	}
	if err != nil {
		err = forwardError(err)
		for _, rt := range r.Topics {
			st := kmsg.NewCreatePartitionsResponseTopic()
			st.Topic = rt.Topic
			st.ErrorCode, st.ErrorMessage = codeFor(err), errText(err)
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	got := raw.(*kmsg.CreatePartitionsResponse)
	resp.ThrottleMillis, resp.Topics = got.ThrottleMillis, got.Topics
	if r.ValidateOnly || r.TimeoutMillis <= 0 {
		return resp
	}
	want := map[string]int{}
	for i, st := range resp.Topics {
		if st.ErrorCode == 0 && i < len(r.Topics) {
			want[st.Topic] = int(r.Topics[i].Count)
		}
	}
	if len(want) == 0 {
		return resp
	}
	waitErr := b.waitApplied(ctx, func(img *metadata.Image) bool {
		for name, n := range want {
			if t := img.Topic(name); t == nil || t.NumPartitions() < n {
				return false
			}
		}
		return true
	})
	for i := range resp.Topics {
		st := &resp.Topics[i]
		if _, ok := want[st.Topic]; !ok {
			continue
		}
		if waitErr != nil {
			err := notSeenError("the new partitions of topic "+st.Topic, waitErr)
			st.ErrorCode, st.ErrorMessage = codeFor(err), errText(err)
			continue
		}
		b.logger.Info("added partitions through the controller", "topic", st.Topic, "partitions", want[st.Topic])
	}
	return resp
}

// newReplicas is the number of replicas r would add (by the image's current counts and replication
// factors), for checkOpenFileRoom.
func (b *Broker) newReplicas(r *kmsg.CreatePartitionsRequest) int64 {
	img := b.MetadataImage()
	if img == nil || r.ValidateOnly {
		return 0
	}
	var n, partitions int64
	for _, rt := range r.Topics {
		t := img.Topic(rt.Topic)
		if t == nil || int(rt.Count) <= t.NumPartitions() {
			continue
		}
		rf := 1
		if ps := t.Partitions(); len(ps) > 0 {
			rf = len(ps[0].Replicas)
		}
		partitions += int64(int(rt.Count) - t.NumPartitions())
		n += int64(int(rt.Count)-t.NumPartitions()) * int64(rf)
	}
	if partitions > b.cfg.ControllerMaxRecordsPerBatch {
		return 0 // NB: the controller refuses it, naming controller.max.records.per.batch
	}
	return n
}
