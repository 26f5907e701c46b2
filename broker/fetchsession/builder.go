package fetchsession

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Want is one partition a fetcher wants in its next fetch, with the request fields for it.
type Want struct {
	Topic     string
	TopicID   [16]byte
	Partition kmsg.FetchRequestTopicPartition
}

type wantKey struct {
	topic     string
	partition int32
}

// Builder is the client side of one fetch session with one broker, for a fetcher with one fetch
// in flight (Kafka's FetchSessionHandler): Build fills the next request, full or incremental, and
// HandleResponse or HandleError moves the session on. A Builder is not safe for concurrent use.
//
// On a session error, a failed request or a topic ID change it falls back to a full fetch that
// closes the old session and asks for a new one; a broker without room for a session (SessionID 0
// in the answer) is asked again with every full fetch.
type Builder struct {
	sessionID int32
	epoch     int32 // of the next request; InitialEpoch: full
	// session is what the broker's session holds after the last answered request.
	session map[wantKey]Want
	// pending is what it will hold once the request in flight is answered.
	pending map[wantKey]Want
}

// NewBuilder returns a Builder whose first request is a full fetch asking for a session.
func NewBuilder() *Builder { return &Builder{} }

// SessionID returns the current session's ID (0: none).
func (b *Builder) SessionID() int32 { return b.sessionID }

// Build sets r's SessionID, SessionEpoch, Topics and ForgottenTopics for fetching want: every
// partition in a full fetch, only those added or changed since the session's last request in an
// incremental one, with the ones no longer wanted forgotten. want is not retained.
func (b *Builder) Build(r *kmsg.FetchRequest, want []Want) {
	next := make(map[wantKey]Want, len(want))
	for _, w := range want {
		next[wantKey{w.Topic, w.Partition.Partition}] = w
	}
	b.pending = next
	if b.epoch != InitialEpoch {
		for k, w := range next {
			if old, ok := b.session[k]; ok && old.TopicID != w.TopicID {
				// NB: the topic was re-created under the same name: the session's entry names the
				// old ID. Start over rather than forget and add one name in one request.
				b.epoch = InitialEpoch
				break
			}
		}
	}
	r.SessionID, r.SessionEpoch = b.sessionID, b.epoch
	r.Topics, r.ForgottenTopics = nil, nil
	topics := map[string]int{}
	add := func(w Want) {
		i, ok := topics[w.Topic]
		if !ok {
			i = len(r.Topics)
			topics[w.Topic] = i
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = w.Topic, w.TopicID
			r.Topics = append(r.Topics, t)
		}
		r.Topics[i].Partitions = append(r.Topics[i].Partitions, w.Partition)
	}
	if b.epoch == InitialEpoch {
		for _, w := range want {
			add(w)
		}
		return
	}
	for _, w := range want {
		if old, ok := b.session[wantKey{w.Topic, w.Partition.Partition}]; !ok || changed(old.Partition, w.Partition) {
			add(w)
		}
	}
	forgotten := map[string]int{}
	for k, old := range b.session {
		if _, ok := next[k]; ok {
			continue
		}
		i, ok := forgotten[k.topic]
		if !ok {
			i = len(r.ForgottenTopics)
			forgotten[k.topic] = i
			ft := kmsg.NewFetchRequestForgottenTopic()
			ft.Topic, ft.TopicID = old.Topic, old.TopicID
			r.ForgottenTopics = append(r.ForgottenTopics, ft)
		}
		r.ForgottenTopics[i].Partitions = append(r.ForgottenTopics[i].Partitions, k.partition)
	}
}

// changed reports whether the broker must be told a partition's new request fields.
func changed(a, b kmsg.FetchRequestTopicPartition) bool {
	return a.FetchOffset != b.FetchOffset || a.CurrentLeaderEpoch != b.CurrentLeaderEpoch ||
		a.LastFetchedEpoch != b.LastFetchedEpoch || a.LogStartOffset != b.LogStartOffset ||
		a.PartitionMaxBytes != b.PartitionMaxBytes
}

// IsSessionError reports whether err (from HandleResponse) is a fetch session error, which the
// Builder has already recovered from: the next request is a full fetch, to send at once.
func IsSessionError(err error) bool {
	return errors.Is(err, kerr.FetchSessionIDNotFound) || errors.Is(err, kerr.InvalidFetchSessionEpoch) ||
		errors.Is(err, kerr.FetchSessionTopicIDError)
}

// HandleResponse moves the session on after resp, the answer to the last Build. It returns
// resp's top-level error, if any: then the next request is a full fetch (a new session when the
// broker did not know ours, else one that closes ours and asks for another).
func (b *Builder) HandleResponse(resp *kmsg.FetchResponse) error {
	if resp.ErrorCode != 0 {
		if resp.ErrorCode == kerr.FetchSessionIDNotFound.Code {
			b.sessionID = 0
		}
		b.reset()
		return kerr.ErrorForCode(resp.ErrorCode)
	}
	switch {
	case b.epoch == InitialEpoch && resp.SessionID != 0:
		b.sessionID, b.epoch = resp.SessionID, 1
	case b.epoch == InitialEpoch || resp.SessionID == 0:
		// No room for a session, or the broker ended ours: ask again with the next full fetch.
		b.sessionID = 0
		b.reset()
		return nil
	case resp.SessionID != b.sessionID:
		b.reset()
		return nil
	default:
		b.epoch = nextEpoch(b.epoch)
	}
	b.session, b.pending = b.pending, nil
	return nil
}

// HandleError is called when the request from the last Build got no answer: whether the broker
// applied it is unknown, so the next request is a full fetch that closes the session.
func (b *Builder) HandleError() { b.reset() }

func (b *Builder) reset() {
	b.epoch = InitialEpoch
	b.session, b.pending = nil, nil
}
