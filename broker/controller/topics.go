package controller

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxTopicNameLength is Kafka's limit on topic names.
const maxTopicNameLength = 249

func validTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("topic name is illegal, it can't be empty")
	case name == "." || name == "..":
		return fmt.Errorf("topic name cannot be \".\" or \"..\"")
	case len(name) > maxTopicNameLength:
		return fmt.Errorf("topic name is illegal, it can't be longer than %d characters", maxTopicNameLength)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name %q is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", name)
		}
	}
	return nil
}

func strp(s string) *string { return &s }

// collidingTopic returns an existing topic whose name equals name once '.' is read as '_' (Kafka refuses
// such pairs: their metric names would clash), or "".
func (c *Controller) collidingTopic(name string) string {
	if !strings.ContainsAny(name, "._") {
		return ""
	}
	norm := strings.ReplaceAll(name, ".", "_")
	for _, t := range c.img().Topics() {
		if t.Name != name && strings.ReplaceAll(t.Name, ".", "_") == norm {
			return t.Name
		}
	}
	return ""
}

// internalErr is the code helpers return with an error that is not Kafka-level (a generated record the
// image refused: a bug); the whole request then fails and nothing of it is kept.
const internalErr int16 = -100

// newPartitionRecord makes the record of a new partition: the ISR is the usable replicas, the leader the
// first of them.
func (c *Controller) newPartitionRecord(id metadata.Uuid, pid int32, replicas []int32) (*metadata.PartitionRecord, error) {
	var isr []int32
	for _, r := range replicas {
		if c.img().IsUsable(r) {
			isr = append(isr, r)
		}
	}
	if len(isr) == 0 {
		return nil, fmt.Errorf("all brokers specified in the assignment %v for partition %d are fenced or in controlled shutdown", replicas, pid)
	}
	return &metadata.PartitionRecord{
		PartitionID: pid, TopicID: id, Replicas: replicas, Isr: isr, Leader: isr[0],
		RemovingReplicas: []int32{}, AddingReplicas: []int32{},
	}, nil
}

// validateAssignment checks an explicit replica list: non-empty, no duplicates, registered brokers, the
// expected size (rf > 0).
func (c *Controller) validateAssignment(pid int32, replicas []int32, rf int) error {
	if len(replicas) == 0 {
		return fmt.Errorf("the manual partition assignment of partition %d is empty", pid)
	}
	if rf > 0 && len(replicas) != rf {
		return fmt.Errorf("the manual partition assignment of partition %d has %d replica(s), but this is not consistent with the others, which have %d", pid, len(replicas), rf)
	}
	for i, r := range replicas {
		if slices.Contains(replicas[:i], r) {
			return fmt.Errorf("the manual partition assignment of partition %d names broker %d twice", pid, r)
		}
		if c.img().Broker(r) == nil {
			return fmt.Errorf("the manual partition assignment of partition %d names broker %d, which is not registered", pid, r)
		}
	}
	return nil
}

func validateTopicConfigs(cfgs []kmsg.CreateTopicsRequestTopicConfig) (int16, error) {
	seen := map[string]bool{}
	for _, cfg := range cfgs {
		if cfg.Value == nil {
			return kerr.InvalidConfig.Code, fmt.Errorf("null value not supported for topic config %s", cfg.Name)
		}
		if seen[cfg.Name] {
			return kerr.InvalidRequest.Code, fmt.Errorf("duplicate topic config %s", cfg.Name)
		}
		seen[cfg.Name] = true
		if err := config.ValidateTopicConfig(cfg.Name, *cfg.Value); err != nil {
			return kerr.InvalidConfig.Code, err
		}
	}
	return 0, nil
}

func (c *Controller) createTopics(req *kmsg.CreateTopicsRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrCreateTopicsResponse()
	counts := map[string]int{}
	total := 0
	for _, t := range req.Topics {
		counts[t.Topic]++
		if len(t.ReplicaAssignment) > 0 {
			total += len(t.ReplicaAssignment)
		} else if t.NumPartitions > 0 {
			total += int(t.NumPartitions)
		} else {
			total += int(c.cfg.DefaultNumPartitions)
		}
	}
	for _, t := range req.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		rt.NumPartitions, rt.ReplicationFactor = -1, -1
		fail := func(code int16, err error) {
			rt.ErrorCode = code
			rt.ErrorMessage = strp(err.Error())
		}
		switch {
		case counts[t.Topic] > 1:
			fail(kerr.InvalidRequest.Code, fmt.Errorf("duplicate topic name %q in the request", t.Topic))
		case total > c.maxPartitionsPerRequest():
			fail(kerr.PolicyViolation.Code, c.tooManyPartitionsError(total))
		default:
			code, err := c.createTopic(&t, &rt, req.ValidateOnly)
			if code == internalErr {
				return nil, err
			}
			if err != nil {
				fail(code, err)
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// createTopic validates one topic and, unless validateOnly, emits its records. A non-nil error carries
// the Kafka error code to answer.
func (c *Controller) createTopic(t *kmsg.CreateTopicsRequestTopic, rt *kmsg.CreateTopicsResponseTopic, validateOnly bool) (int16, error) {
	if err := validTopicName(t.Topic); err != nil {
		return kerr.InvalidTopicException.Code, err
	}
	if c.img().Topic(t.Topic) != nil {
		return kerr.TopicAlreadyExists.Code, fmt.Errorf("topic %q already exists", t.Topic)
	}
	if other := c.collidingTopic(t.Topic); other != "" {
		return kerr.InvalidTopicException.Code, fmt.Errorf("topic %q collides with existing topic %q ('.' and '_' are the same in metric names)", t.Topic, other)
	}
	if code, err := validateTopicConfigs(t.Configs); err != nil {
		return code, err
	}
	var assignment [][]int32
	if len(t.ReplicaAssignment) > 0 {
		if t.NumPartitions != -1 || t.ReplicationFactor != -1 {
			return kerr.InvalidRequest.Code, fmt.Errorf("both num_partitions/replication_factor and replica_assignment were set for topic %q", t.Topic)
		}
		assignment = make([][]int32, len(t.ReplicaAssignment))
		for _, a := range t.ReplicaAssignment {
			if a.Partition < 0 || int(a.Partition) >= len(assignment) || assignment[a.Partition] != nil {
				return kerr.InvalidReplicaAssignment.Code, fmt.Errorf("partitions of the manual assignment of %q must be 0..%d, each once; got %d", t.Topic, len(assignment)-1, a.Partition)
			}
			if err := c.validateAssignment(a.Partition, a.Replicas, len(t.ReplicaAssignment[0].Replicas)); err != nil {
				return kerr.InvalidReplicaAssignment.Code, err
			}
			assignment[a.Partition] = slices.Clone(a.Replicas)
		}
	} else {
		n, rf := t.NumPartitions, int(t.ReplicationFactor)
		if n == -1 {
			n = c.cfg.DefaultNumPartitions
		}
		if rf == -1 {
			rf = int(c.cfg.DefaultReplicationFactor)
		}
		if n <= 0 {
			return kerr.InvalidPartitions.Code, fmt.Errorf("number of partitions must be larger than 0 (or -1 for the default), got %d", t.NumPartitions)
		}
		if rf <= 0 {
			return kerr.InvalidReplicationFactor.Code, fmt.Errorf("replication factor must be larger than 0 (or -1 for the default), got %d", t.ReplicationFactor)
		}
		pl := c.newPlacement(c.img().UsableBrokers())
		for pid := range n {
			replicas, err := pl.assign(pid, rf)
			if err != nil {
				return kerr.InvalidReplicationFactor.Code, err
			}
			assignment = append(assignment, replicas)
		}
	}
	id := c.cfg.NewTopicID()
	for id.IsZero() || c.img().TopicByID(id) != nil {
		id = c.cfg.NewTopicID()
	}
	if err := c.checkBrokerPartitions(assignment); err != nil {
		return kerr.PolicyViolation.Code, err
	}
	parts := make([]*metadata.PartitionRecord, len(assignment))
	for pid, replicas := range assignment {
		rec, err := c.newPartitionRecord(id, int32(pid), replicas)
		if err != nil {
			return kerr.InvalidReplicaAssignment.Code, err
		}
		parts[pid] = rec
	}
	rt.NumPartitions = int32(len(assignment))
	rt.ReplicationFactor = int16(len(assignment[0]))
	for _, cfg := range t.Configs {
		rc := kmsg.NewCreateTopicsResponseTopicConfig()
		rc.Name, rc.Value = cfg.Name, cfg.Value
		rc.Source = int8(kmsg.ConfigSourceDynamicTopicConfig)
		rt.Configs = append(rt.Configs, rc)
	}
	if validateOnly {
		return 0, nil
	}
	rt.TopicID = id
	if err := c.emit(&metadata.TopicRecord{Name: t.Topic, TopicID: id}); err != nil {
		return internalErr, err
	}
	for _, cfg := range t.Configs {
		if err := c.emit(&metadata.ConfigRecord{ResourceType: metadata.ResourceTopic, ResourceName: t.Topic, Name: cfg.Name, Value: cfg.Value}); err != nil {
			return internalErr, err
		}
	}
	for _, rec := range parts {
		if err := c.emit(rec); err != nil {
			return internalErr, err
		}
	}
	return 0, nil
}

func (c *Controller) deleteTopics(req *kmsg.DeleteTopicsRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrDeleteTopicsResponse()
	type target struct {
		name *string
		id   metadata.Uuid
	}
	var targets []target
	for _, n := range req.TopicNames {
		targets = append(targets, target{name: strp(n)})
	}
	for _, t := range req.Topics {
		targets = append(targets, target{name: t.Topic, id: t.TopicID})
	}
	for _, tg := range targets {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID = tg.name, tg.id
		var topic *metadata.Topic
		switch {
		case tg.name != nil && *tg.name != "":
			topic = c.img().Topic(*tg.name)
			if topic == nil {
				rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
				rt.ErrorMessage = strp(fmt.Sprintf("topic %q does not exist", *tg.name))
			}
		case !tg.id.IsZero():
			topic = c.img().TopicByID(tg.id)
			if topic == nil {
				rt.ErrorCode = kerr.UnknownTopicID.Code
				rt.ErrorMessage = strp(fmt.Sprintf("topic ID %s does not exist", tg.id))
			}
		default:
			rt.ErrorCode = kerr.InvalidRequest.Code
			rt.ErrorMessage = strp("neither topic name nor topic ID given")
		}
		if topic != nil {
			rt.Topic, rt.TopicID = strp(topic.Name), topic.ID
			if err := c.emit(&metadata.RemoveTopicRecord{TopicID: topic.ID}); err != nil {
				return nil, err
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func (c *Controller) createPartitions(req *kmsg.CreatePartitionsRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrCreatePartitionsResponse()
	counts := map[string]int{}
	total := 0
	for _, t := range req.Topics {
		counts[t.Topic]++
		if cur := c.img().Topic(t.Topic); cur != nil && int(t.Count) > cur.NumPartitions() {
			total += int(t.Count) - cur.NumPartitions()
		}
	}
	for _, t := range req.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		code, err := int16(0), error(nil)
		switch {
		case counts[t.Topic] > 1:
			code, err = kerr.InvalidRequest.Code, fmt.Errorf("duplicate topic name %q in the request", t.Topic)
		case total > c.maxPartitionsPerRequest():
			code, err = kerr.PolicyViolation.Code, c.tooManyPartitionsError(total)
		default:
			code, err = c.createPartitionsOf(&t, req.ValidateOnly)
			if code == internalErr {
				return nil, err
			}
		}
		if err != nil {
			rt.ErrorCode = code
			rt.ErrorMessage = strp(err.Error())
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func (c *Controller) createPartitionsOf(t *kmsg.CreatePartitionsRequestTopic, validateOnly bool) (int16, error) {
	topic := c.img().Topic(t.Topic)
	if topic == nil {
		return kerr.UnknownTopicOrPartition.Code, fmt.Errorf("topic %q does not exist", t.Topic)
	}
	cur := int32(topic.NumPartitions())
	switch {
	case t.Count < cur:
		return kerr.InvalidPartitions.Code, fmt.Errorf("topic currently has %d partitions, which is higher than the requested %d", cur, t.Count)
	case t.Count == cur:
		return kerr.InvalidPartitions.Code, fmt.Errorf("topic already has %d partition(s)", cur)
	case int(t.Count-cur) > c.maxPartitionsPerRequest():
		return kerr.PolicyViolation.Code, c.tooManyPartitionsError(int(t.Count - cur))
	}
	rf := int(c.cfg.DefaultReplicationFactor)
	if ps := topic.Partitions(); len(ps) > 0 {
		rf = len(ps[0].Replicas)
	}
	var assignment [][]int32
	if t.Assignment != nil {
		if len(t.Assignment) != int(t.Count-cur) {
			return kerr.InvalidReplicaAssignment.Code, fmt.Errorf("%d partition(s) are being added but the assignment has %d", t.Count-cur, len(t.Assignment))
		}
		for i, a := range t.Assignment {
			if err := c.validateAssignment(cur+int32(i), a.Replicas, rf); err != nil {
				return kerr.InvalidReplicaAssignment.Code, err
			}
			assignment = append(assignment, slices.Clone(a.Replicas))
		}
	} else {
		pl := c.newPlacement(c.img().UsableBrokers())
		for pid := cur; pid < t.Count; pid++ {
			replicas, err := pl.assign(pid, rf)
			if err != nil {
				return kerr.InvalidReplicationFactor.Code, err
			}
			assignment = append(assignment, replicas)
		}
	}
	if err := c.checkBrokerPartitions(assignment); err != nil {
		return kerr.PolicyViolation.Code, err
	}
	var recs []*metadata.PartitionRecord
	for i, replicas := range assignment {
		rec, err := c.newPartitionRecord(topic.ID, cur+int32(i), replicas)
		if err != nil {
			return kerr.InvalidReplicaAssignment.Code, err
		}
		recs = append(recs, rec)
	}
	if validateOnly {
		return 0, nil
	}
	for _, rec := range recs {
		if err := c.emit(rec); err != nil {
			return internalErr, err
		}
	}
	return 0, nil
}

// normalizeList is how APPEND/SUBTRACT see a list config: comma separated, trimmed, empty parts dropped.
func normalizeList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
