package console

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/admin"
	"github.com/twmb/franz-go/pkg/kadm"
)

// groupRow is one row of GET /api/groups.
type groupRow struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocolType"`
	Members      int    `json:"members"`
	Lag          int64  `json:"lag"` // -1 when unknown
	Error        string `json:"error,omitempty"`
}

func (s *Server) listGroups(r *http.Request) (any, error) {
	ctx := r.Context()
	listed, err := s.adm.ListGroups(ctx)
	if err != nil {
		return nil, errUnavailable("listing groups: %v", err)
	}
	rows := []groupRow{}
	if len(listed) > 0 {
		lags, err := s.adm.Lag(ctx, listed.Groups()...)
		if err != nil {
			return nil, errUnavailable("describing groups: %v", err)
		}
		for g, l := range lags {
			row := groupRow{Group: g, State: l.State, ProtocolType: l.ProtocolType, Members: len(l.Members), Lag: -1}
			if e := l.Error(); e != nil {
				row.Error = e.Error()
			} else {
				row.Lag = lagSampleOf(time.Now(), l.Lag).total
			}
			rows = append(rows, row)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Group < rows[j].Group })
	return map[string]any{"groups": rows}, nil
}

// memberInfo is one member of a group and what it was assigned.
type memberInfo struct {
	MemberID   string             `json:"memberId"`
	InstanceID *string            `json:"instanceId"`
	ClientID   string             `json:"clientId"`
	Host       string             `json:"host"`
	Assigned   map[string][]int32 `json:"assigned"`
}

// partitionLag is one partition's committed offset, end and lag.
type partitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"`
	Member    string `json:"member,omitempty"`
	ClientID  string `json:"clientId,omitempty"`
	Error     string `json:"error,omitempty"`
}

func (s *Server) describeGroup(r *http.Request) (any, error) {
	group := r.PathValue("group")
	lags, err := s.adm.Lag(r.Context(), group)
	if err != nil {
		return nil, errUnavailable("describing group %q: %v", group, err)
	}
	l, ok := lags[group]
	if !ok {
		return nil, errNotFound("group %q does not exist", group)
	}
	if e := l.Error(); e != nil {
		return nil, &apiError{statusOf(e), "group " + group + ": " + e.Error()}
	}
	if l.State == "Dead" && len(l.Lag) == 0 {
		return nil, errNotFound("group %q does not exist", group)
	}
	members := []memberInfo{}
	for _, m := range l.Members {
		mi := memberInfo{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, Host: m.ClientHost,
			Assigned: map[string][]int32{}}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				mi.Assigned[t.Topic] = append(mi.Assigned[t.Topic], t.Partitions...)
			}
		}
		members = append(members, mi)
	}
	parts := []partitionLag{}
	var total int64
	for _, pl := range l.Lag.Sorted() {
		p := partitionLag{Topic: pl.Topic, Partition: pl.Partition, Committed: pl.Commit.At, End: pl.End.Offset, Lag: pl.Lag}
		if pl.Member != nil {
			p.Member, p.ClientID = pl.Member.MemberID, pl.Member.ClientID
		}
		if pl.Err != nil {
			p.Error = pl.Err.Error()
		} else if pl.Lag > 0 {
			total += pl.Lag
		}
		parts = append(parts, p)
	}
	history, perPartition := s.sampler.lagHistory(group)
	return map[string]any{"group": group, "state": l.State, "protocolType": l.ProtocolType, "protocol": l.Protocol,
		"coordinator": l.Coordinator.NodeID, "members": members, "partitions": parts, "lag": total,
		"lagHistory": history, "partitionLagHistory": perPartition}, nil
}

// resetRequest is POST /api/groups/{group}/reset-offsets, the console's kafka-consumer-groups.sh
// --reset-offsets: without execute it only plans (--dry-run).
type resetRequest struct {
	// Topics are "topic" (every partition) or "topic:0,1"; none means every partition the group
	// has committed offsets for (--all-topics).
	Topics []string `json:"topics"`
	// Strategy is earliest, latest, offset, shift-by, datetime, duration or current.
	Strategy string `json:"strategy"`
	// Value is the strategy's argument: an offset, a delta, a datetime (yyyy-MM-ddTHH:mm:ss.SSS)
	// or an ISO-8601 duration (PT1H).
	Value   string `json:"value"`
	Execute bool   `json:"execute"`
}

// plannedOffset is one line of a reset plan.
type plannedOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Current   int64  `json:"current"` // -1 when nothing is committed
	New       int64  `json:"new"`
	Error     string `json:"error,omitempty"`
}

// inactiveStates are the states in which Kafka lets a group's offsets be reset.
var inactiveStates = []string{"Empty", "Dead"}

func (s *Server) resetOffsets(r *http.Request) (any, error) {
	ctx := r.Context()
	group := r.PathValue("group")
	var req resetRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	strategy, err := parseStrategy(req.Strategy, req.Value)
	if err != nil {
		return nil, err
	}
	described, err := s.adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, errUnavailable("describing group %q: %v", group, err)
	}
	if d, ok := described[group]; ok && d.Err == nil && !slices.Contains(inactiveStates, d.State) {
		return nil, errConflict("Assignments can only be reset if the group '%s' is inactive, but the current state is %s.", group, d.State)
	}
	partitions, err := s.resetPartitions(ctx, req.Topics)
	if err != nil {
		return nil, err
	}
	plan, err := admin.PlanGroupReset(ctx, s.adm, group, partitions, strategy)
	if err != nil {
		var pe *admin.PartitionError
		if errors.As(err, &pe) && pe.Missing {
			return nil, errNotFound("%v", err)
		}
		if strings.Contains(err.Error(), "cannot shift") {
			return nil, errBadRequest("%v", err)
		}
		return nil, errUnavailable("planning the reset of %q: %v", group, err)
	}
	committed, _ := s.adm.FetchOffsets(ctx, group)
	lines := []plannedOffset{}
	plan.Each(func(o kadm.Offset) {
		line := plannedOffset{Topic: o.Topic, Partition: o.Partition, Current: -1, New: o.At}
		if c, ok := committed.Lookup(o.Topic, o.Partition); ok && c.Err == nil {
			line.Current = c.At
		}
		lines = append(lines, line)
	})
	sort.Slice(lines, func(i, j int) bool {
		if lines[i].Topic != lines[j].Topic {
			return lines[i].Topic < lines[j].Topic
		}
		return lines[i].Partition < lines[j].Partition
	})
	if req.Execute && len(lines) > 0 {
		resps, err := s.adm.CommitOffsets(ctx, group, plan)
		if err != nil {
			return nil, &apiError{statusOf(err), "committing the reset of " + group + ": " + err.Error()}
		}
		if err := resps.Error(); err != nil {
			return nil, &apiError{statusOf(err), "committing the reset of " + group + ": " + err.Error()}
		}
	}
	return map[string]any{"group": group, "executed": req.Execute, "plan": lines}, nil
}

// parseStrategy turns the request's strategy and value into admin's ResetStrategy.
func parseStrategy(name, value string) (admin.ResetStrategy, error) {
	num := func() (int64, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return 0, errBadRequest("strategy %s needs an integer value (got %q)", name, value)
		}
		return n, nil
	}
	var s admin.ResetStrategy
	var err error
	switch name {
	case "earliest":
		s.Kind = admin.ResetToEarliest
	case "latest":
		s.Kind = admin.ResetToLatest
	case "current":
		s.Kind = admin.ResetToCurrent
	case "offset":
		s.Kind = admin.ResetToOffset
		s.Offset, err = num()
	case "shift-by":
		s.Kind = admin.ResetShiftBy
		s.Offset, err = num()
	case "datetime":
		s.Kind = admin.ResetToTime
		t, perr := admin.ParseDatetime(value)
		if perr != nil {
			return s, errBadRequest("strategy datetime: %v", perr)
		}
		s.Millis = t.UnixMilli()
	case "duration":
		s.Kind = admin.ResetToTime
		d, perr := admin.ParseISODuration(value)
		if perr != nil {
			return s, errBadRequest("strategy duration: %v", perr)
		}
		s.Millis = time.Now().Add(-d).UnixMilli()
	default:
		return s, errBadRequest("strategy must be earliest, latest, offset, shift-by, datetime, duration or current (got %q)", name)
	}
	return s, err
}

// resetPartitions parses "topic" and "topic:0,1" into a set; nil means every committed partition.
func (s *Server) resetPartitions(ctx context.Context, specs []string) (kadm.TopicsSet, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	set := kadm.TopicsSet{}
	for _, spec := range specs {
		topic, list, withParts := strings.Cut(spec, ":")
		parts, err := s.topicPartitions(ctx, topic)
		if err != nil {
			return nil, err
		}
		if !withParts {
			set.Add(topic, parts...)
			continue
		}
		for _, f := range strings.Split(list, ",") {
			p, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
			if err != nil || p < 0 || int(p) >= len(parts) {
				return nil, errBadRequest("%q: partition %q is not one of 0..%d", spec, f, len(parts)-1)
			}
			set.Add(topic, int32(p))
		}
	}
	return set, nil
}
