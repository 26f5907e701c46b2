package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

const groupsUsage = `Usage: gregor groups <subcommand> [flags]

Subcommands:
  list            [--state [Stable,Empty,...]]
  describe        --group G... | --all-groups  [--members | --state]
  delete          --group G...
  reset-offsets   --group G... --topic T[:p,...]... | --all-topics
                  --to-earliest | --to-latest | --to-offset N | --to-datetime DT |
                  --shift-by N | --by-duration PnDTnHnMnS | --to-current  [--dry-run | --execute]
  delete-offsets  --group G --topic T[:p,...]...

All take --bootstrap-server (-b). Run 'gregor groups <subcommand> -h' for details.
`

// runGroups is `gregor groups <subcommand>`, the kafka-consumer-groups.sh of
// Gregor.
func runGroups(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "groups", groupsUsage, map[string]subcommand{
		"list":           runGroupsList,
		"describe":       runGroupsDescribe,
		"delete":         runGroupsDelete,
		"reset-offsets":  runGroupsResetOffsets,
		"delete-offsets": runGroupsDeleteOffsets,
	}, args, stdout, stderr)
}

// explainGroupError turns an error about group into a kafkaError whose
// sentence names the group, as explainTopicError does for topics.
func explainGroupError(group string, err error, brokerMessage string) error {
	if err == nil {
		return nil
	}
	var code *kerr.Error
	if !errors.As(err, &code) {
		return fmt.Errorf("group %q: %w", group, err)
	}
	var sentence string
	switch code {
	case kerr.GroupIDNotFound:
		sentence = fmt.Sprintf("consumer group %q does not exist", group)
	case kerr.NonEmptyGroup:
		sentence = fmt.Sprintf("consumer group %q is not empty: it still has active members", group)
	case kerr.InvalidGroupID:
		sentence = fmt.Sprintf("%q is not a valid group id", group)
	case kerr.GroupAuthorizationFailed:
		sentence = fmt.Sprintf("access to consumer group %q is not authorized", group)
	default:
		if brokerMessage != "" {
			sentence = fmt.Sprintf("group %q: %s", group, brokerMessage)
		} else {
			sentence = fmt.Sprintf("group %q: %s", group, lowerFirst(strings.TrimSuffix(code.Description, ".")))
		}
	}
	return &kafkaError{code: code, sentence: sentence}
}

// explainGroupPartitionError explains an error on one partition of a
// group's offsets (OffsetCommit, OffsetDelete).
func explainGroupPartitionError(group, topic string, partition int32, err error) error {
	var code *kerr.Error
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &code):
		return fmt.Errorf("group %q, partition %s-%d: %w", group, topic, partition, err)
	case code == kerr.GroupSubscribedToTopic:
		// NB: no partition in the sentence: it holds for the whole topic, and
		// delete-offsets reports each distinct error once.
		return &kafkaError{code: code, sentence: fmt.Sprintf(
			"consumer group %q is subscribed to topic %q, so its offsets cannot be deleted", group, topic)}
	case code == kerr.UnknownTopicOrPartition:
		return &kafkaError{code: code, sentence: fmt.Sprintf("topic %q has no partition %d", topic, partition)}
	}
	return explainGroupError(group, err, "")
}

// writeTable prints header and rows as Kafka's tools do: left-aligned columns
// separated by spaces, the last column unpadded.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// orDash prints an unknown (empty) value as Kafka's tools do.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// optionalValueFlag is a flag that may be given bare (`--state`) or with a
// value (`--state=Stable,Empty`), like kafka-consumer-groups' --state.
type optionalValueFlag struct {
	set   bool
	value string
}

func (f *optionalValueFlag) String() string   { return f.value }
func (f *optionalValueFlag) IsBoolFlag() bool { return true }

func (f *optionalValueFlag) Set(v string) error {
	f.set = true
	if v != "true" {
		f.value = v
	}
	return nil
}

// groupStates are the group states Kafka's ListGroups filters on, in their
// canonical spelling.
var groupStates = []string{"Empty", "Stable", "PreparingRebalance", "CompletingRebalance", "Dead", "Assigning", "Reconciling"}

// parseGroupStates parses a comma-separated state list case-insensitively,
// as kafka-consumer-groups does, into the canonical names.
func parseGroupStates(s string) ([]string, error) {
	var states []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		i := slices.IndexFunc(groupStates, func(state string) bool { return strings.EqualFold(state, name) })
		if i < 0 {
			return nil, usageErrorf("--state: unknown group state %q (valid: %s)", name, strings.Join(groupStates, ", "))
		}
		if !slices.Contains(states, groupStates[i]) {
			states = append(states, groupStates[i])
		}
	}
	return states, nil
}

// isConsumerGroup says whether a group's protocol type is one the consumer
// group tool shows: "consumer", or "" for groups that only commit offsets.
func isConsumerGroup(protocolType string) bool {
	return protocolType == "consumer" || protocolType == ""
}

func runGroupsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("groups list", "gregor groups list [--state [Stable,Empty,...]]")
	bootstrap := addBootstrapFlag(fs)
	var state optionalValueFlag
	fs.Var(&state, "state", "show each group's state; with a comma-separated list of states\n(--state Stable,Empty), only groups in those states")
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	// NB: --state is a bool flag so that it can be given bare, so its value
	// in `--state Stable,Empty` arrives as a positional argument.
	if state.set && state.value == "" && len(positional) == 1 {
		state.value, positional = positional[0], nil
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	states, err := parseGroupStates(state.value)
	if err != nil {
		return err
	}

	adm, closeAdmin, err := newAdmin(*bootstrap)
	if err != nil {
		return err
	}
	defer closeAdmin()
	listed, err := adm.ListGroups(ctx, states...)
	if err != nil {
		return fmt.Errorf("listing groups: %w", err)
	}
	var rows [][]string
	for _, g := range listed.Sorted() {
		if !isConsumerGroup(g.ProtocolType) {
			continue
		}
		if !state.set {
			fmt.Fprintln(stdout, g.Group)
			continue
		}
		rows = append(rows, []string{g.Group, orDash(g.State)})
	}
	if !state.set {
		return nil
	}
	return writeTable(stdout, []string{"GROUP", "STATE"}, rows)
}

func runGroupsDescribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("groups describe", "gregor groups describe --group G... | --all-groups [--offsets | --members | --state]")
	bootstrap := addBootstrapFlag(fs)
	var groups stringList
	fs.Var(&groups, "group", "consumer group to describe; repeat for several")
	allGroups := fs.Bool("all-groups", false, "describe every consumer group")
	fs.Bool("offsets", false, "show each partition's committed offset, log end offset and lag (the default)")
	members := fs.Bool("members", false, "show the group's members and their assignments")
	state := fs.Bool("state", false, "show the group's coordinator, assignment strategy, state and member count")
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	if err := requireGroups(groups, *allGroups); err != nil {
		return err
	}
	if *members && *state {
		return usageErrorf("--members and --state cannot be used together")
	}

	adm, closeAdmin, err := newAdmin(*bootstrap)
	if err != nil {
		return err
	}
	defer closeAdmin()
	if *allGroups {
		listed, err := adm.ListGroups(ctx)
		if err != nil {
			return fmt.Errorf("listing groups: %w", err)
		}
		for _, g := range listed.Sorted() {
			if isConsumerGroup(g.ProtocolType) {
				groups = append(groups, g.Group)
			}
		}
		if len(groups) == 0 {
			return nil
		}
	}
	lags, err := adm.Lag(ctx, groups...)
	if err != nil {
		return fmt.Errorf("describing groups: %w", err)
	}

	var errs []error
	printed := 0
	for _, name := range groups {
		l, ok := lags[name]
		if !ok {
			errs = append(errs, fmt.Errorf("group %q: missing from the describe response", name))
			continue
		}
		if err := describedGroupError(l); err != nil {
			errs = append(errs, err)
			continue
		}
		if printed > 0 {
			fmt.Fprintln(stdout)
		}
		printed++
		var err error
		switch {
		case *state:
			err = writeTable(stdout, []string{"GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"}, [][]string{groupStateRow(l)})
		case *members:
			printMemberState(stderr, l)
			if len(l.Members) > 0 {
				err = writeTable(stdout, []string{"GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT"}, groupMemberRows(l))
			}
		default:
			printMemberState(stderr, l)
			if rows := groupOffsetRows(l); len(rows) > 0 {
				err = writeTable(stdout, []string{"GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"}, rows)
			}
		}
		if err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	return errors.Join(errs...)
}

// requireGroups checks that a command was given --group or --all-groups,
// not both.
func requireGroups(groups []string, allGroups bool) error {
	switch {
	case len(groups) == 0 && !allGroups:
		return usageErrorf("--group or --all-groups is required")
	case len(groups) > 0 && allGroups:
		return usageErrorf("--group and --all-groups cannot be used together")
	}
	for _, g := range groups {
		if g == "" {
			return usageErrorf("--group must not be empty")
		}
	}
	return nil
}

// describedGroupError is the error describing a group ran into, if any. A
// group that does not exist is Dead (old DescribeGroups versions) or
// GROUP_ID_NOT_FOUND (v6+); both read as GROUP_ID_NOT_FOUND.
func describedGroupError(l kadm.DescribedGroupLag) error {
	if l.DescribeErr != nil {
		return explainGroupError(l.Group, l.DescribeErr, "")
	}
	if l.State == "Dead" {
		return explainGroupError(l.Group, kerr.GroupIDNotFound, "")
	}
	return explainGroupError(l.Group, l.FetchErr, "")
}

// printMemberState prints, as kafka-consumer-groups does on stderr, a note
// about a group whose members cannot be shown.
func printMemberState(stderr io.Writer, l kadm.DescribedGroupLag) {
	switch l.State {
	case "Empty":
		fmt.Fprintf(stderr, "Consumer group '%s' has no active members.\n", l.Group)
	case "PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling":
		fmt.Fprintf(stderr, "Warning: Consumer group '%s' is rebalancing.\n", l.Group)
	}
}

func groupStateRow(l kadm.DescribedGroupLag) []string {
	c := l.Coordinator
	coordinator := fmt.Sprintf("%s:%d (%d)", c.Host, c.Port, c.NodeID)
	return []string{l.Group, coordinator, orDash(l.Protocol), l.State, strconv.Itoa(len(l.Members))}
}

func groupMemberRows(l kadm.DescribedGroupLag) [][]string {
	rows := make([][]string, 0, len(l.Members))
	for _, m := range l.Members {
		n, assignment := formatAssignment(m.Assigned)
		rows = append(rows, []string{l.Group, orDash(m.MemberID), orDash(m.ClientHost), orDash(m.ClientID), strconv.Itoa(n), assignment})
	}
	return rows
}

// formatAssignment renders a consumer assignment as kafka-consumer-groups
// --members --verbose does, `t1(0,1),t2(2)` sorted by topic and partition,
// with the number of partitions; "-" when nothing is assigned.
func formatAssignment(assigned kadm.GroupMemberAssignment) (int, string) {
	c, ok := assigned.AsConsumer()
	if !ok {
		return 0, "-"
	}
	set := make(kadm.TopicsSet)
	for _, t := range c.Topics {
		set.Add(t.Topic, t.Partitions...)
	}
	n := 0
	var parts []string
	for _, t := range set.Sorted() {
		if len(t.Partitions) == 0 {
			continue
		}
		ps := make([]string, len(t.Partitions))
		for i, p := range t.Partitions {
			ps[i] = strconv.Itoa(int(p))
		}
		n += len(t.Partitions)
		parts = append(parts, t.Topic+"("+strings.Join(ps, ",")+")")
	}
	if n == 0 {
		return 0, "-"
	}
	return n, strings.Join(parts, ",")
}

// groupOffsetRows is the default describe table: one row per assigned or
// committed partition, sorted by topic and partition, then one row for each
// member without partitions. Unknown values print as "-"; so does the lag of
// a partition without a committed offset, as in Kafka.
func groupOffsetRows(l kadm.DescribedGroupLag) [][]string {
	var rows [][]string
	withPartitions := make(map[string]bool)
	for _, pl := range l.Lag.Sorted() {
		current, end, lag := "-", "-", "-"
		if pl.Commit.At >= 0 {
			current = strconv.FormatInt(pl.Commit.At, 10)
		}
		if pl.End.Err == nil && pl.End.Offset >= 0 {
			end = strconv.FormatInt(pl.End.Offset, 10)
			if pl.Commit.At >= 0 {
				lag = strconv.FormatInt(max(pl.End.Offset-pl.Commit.At, 0), 10)
			}
		}
		if pl.Member == nil && pl.Commit.At < 0 {
			// NB: for a group without members kadm lists every partition of
			// a committed topic; Kafka shows only the committed ones.
			continue
		}
		consumerID, host, clientID := "-", "-", "-"
		if pl.Member != nil {
			withPartitions[pl.Member.MemberID] = true
			consumerID, host, clientID = orDash(pl.Member.MemberID), orDash(pl.Member.ClientHost), orDash(pl.Member.ClientID)
		}
		rows = append(rows, []string{l.Group, pl.Topic, strconv.Itoa(int(pl.Partition)), current, end, lag, consumerID, host, clientID})
	}
	for _, m := range l.Members {
		if !withPartitions[m.MemberID] {
			rows = append(rows, []string{l.Group, "-", "-", "-", "-", "-", orDash(m.MemberID), orDash(m.ClientHost), orDash(m.ClientID)})
		}
	}
	return rows
}

func runGroupsDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("groups delete", "gregor groups delete --group G...")
	bootstrap := addBootstrapFlag(fs)
	var groups stringList
	fs.Var(&groups, "group", "consumer group to delete; repeat for several")
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	if err := requireGroups(groups, false); err != nil {
		return err
	}
	adm, closeAdmin, err := newAdmin(*bootstrap)
	if err != nil {
		return err
	}
	defer closeAdmin()
	resps, err := adm.DeleteGroups(ctx, groups...)
	if err != nil && len(resps) == 0 {
		return fmt.Errorf("deleting groups: %w", err)
	}
	var deleted []string
	var errs []error
	for _, g := range groups {
		resp, ok := resps[g]
		switch {
		case !ok && err != nil:
			errs = append(errs, fmt.Errorf("deleting group %q: %w", g, err))
		case !ok:
			errs = append(errs, fmt.Errorf("deleting group %q: missing from the response", g))
		case resp.Err != nil:
			errs = append(errs, explainGroupError(g, resp.Err, resp.ErrMessage))
		default:
			deleted = append(deleted, "'"+g+"'")
		}
	}
	if len(deleted) > 0 {
		fmt.Fprintf(stdout, "Deletion of requested consumer groups (%s) was successful.\n", strings.Join(deleted, ", "))
	}
	return errors.Join(errs...)
}

// topicPartitionsSpec is one --topic argument: a topic and, optionally, some
// of its partitions (`orders:0,2`); no partitions means all of them.
type topicPartitionsSpec struct {
	topic      string
	partitions []int32
}

// parseTopicPartitions parses --topic values of the form T or T:p1,p2.
func parseTopicPartitions(values []string) ([]topicPartitionsSpec, error) {
	specs := make([]topicPartitionsSpec, 0, len(values))
	for _, v := range values {
		topic, list, hasPartitions := strings.Cut(v, ":")
		topic = strings.TrimSpace(topic)
		if topic == "" {
			return nil, usageErrorf("--topic %q names no topic", v)
		}
		spec := topicPartitionsSpec{topic: topic}
		if hasPartitions {
			for _, s := range strings.Split(list, ",") {
				p, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
				if err != nil || p < 0 {
					return nil, usageErrorf("--topic %q: partition %q is not a non-negative number", v, s)
				}
				spec.partitions = append(spec.partitions, int32(p))
			}
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

// resolveTopicPartitions checks that the topics (and partitions) of specs
// exist and returns them as a set, every partition of a topic given without
// partitions included.
func resolveTopicPartitions(ctx context.Context, adm *kadm.Client, specs []topicPartitionsSpec) (kadm.TopicsSet, error) {
	topics := make([]string, 0, len(specs))
	for _, s := range specs {
		topics = append(topics, s.topic)
	}
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("describing topics: %w", err)
	}
	set := make(kadm.TopicsSet)
	for _, s := range specs {
		d, ok := details[s.topic]
		if !ok {
			return nil, explainTopicError(s.topic, kerr.UnknownTopicOrPartition, "")
		}
		if d.Err != nil {
			return nil, explainTopicError(s.topic, d.Err, "")
		}
		if len(s.partitions) == 0 {
			for p := range d.Partitions {
				set.Add(s.topic, p)
			}
			continue
		}
		for _, p := range s.partitions {
			if _, ok := d.Partitions[p]; !ok {
				return nil, &kafkaError{code: kerr.UnknownTopicOrPartition, sentence: fmt.Sprintf("topic %q has no partition %d", s.topic, p)}
			}
			set.Add(s.topic, p)
		}
	}
	return set, nil
}

// resetKind is which of reset-offsets' mutually exclusive targets was given.
type resetKind int

const (
	resetToEarliest resetKind = iota + 1
	resetToLatest
	resetToOffset
	resetShiftBy
	resetToTime // --to-datetime and --by-duration
	resetToCurrent
)

// resetStrategy is where reset-offsets moves each partition.
type resetStrategy struct {
	kind   resetKind
	offset int64 // the target of --to-offset, the delta of --shift-by
	millis int64 // resetToTime: the first offset at or after this timestamp (Unix ms)
}

// partitionOffsets is what planResetOffset knows about a partition.
type partitionOffsets struct {
	committed int64 // the group's committed offset, -1 if none
	start     int64 // log start offset
	end       int64 // log end offset
	atTime    int64 // resetToTime: the listed offset for the timestamp
}

// planResetOffset returns the new offset of one partition, clamped to
// [start, end] as Kafka's checkOffsetsRange does. It fails only for
// --shift-by on a partition without a committed offset.
func planResetOffset(s resetStrategy, p partitionOffsets, topic string, partition int32) (int64, error) {
	var target int64
	switch s.kind {
	case resetToEarliest:
		target = p.start
	case resetToLatest:
		target = p.end
	case resetToOffset:
		target = s.offset
	case resetShiftBy:
		if p.committed < 0 {
			return 0, fmt.Errorf("cannot shift offset for partition %s-%d since there is no current committed offset", topic, partition)
		}
		target = p.committed + s.offset
	case resetToTime:
		target = p.atTime
		if target < 0 { // no record at or after the time
			target = p.end
		}
	case resetToCurrent:
		target = p.committed
		if target < 0 { // Kafka resets partitions without a commit to the end
			target = p.end
		}
	}
	return min(max(target, p.start), p.end), nil
}

// parseResetDatetime parses --to-datetime as Kafka does:
// yyyy-MM-ddTHH:mm:ss.SSS with an optional zone (Z, +hh:mm, +hhmm, +hh);
// without a zone the time is local.
func parseResetDatetime(s string) (time.Time, error) {
	// NB: Go accepts fractional seconds after the seconds field even when
	// the layout has none, so ".SSS" is optional here as it is in Kafka.
	for _, layout := range []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05Z07"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05", s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, usageErrorf("--to-datetime %q is not of the form yyyy-MM-ddTHH:mm:ss.SSS[Z|+hh:mm]", s)
}

// parseISODuration parses an ISO-8601 duration of days, hours, minutes and
// seconds (PnDTnHnMn.nS, the form Java's Duration.parse takes, which
// kafka-consumer-groups --by-duration uses): P1D, PT1H, PT30M, PT0.5S,
// P1DT2H3M4S. A leading '-' negates it; each number may carry a sign.
func parseISODuration(s string) (time.Duration, error) {
	bad := func() (time.Duration, error) {
		return 0, usageErrorf("--by-duration %q is not an ISO-8601 duration such as PT1H, P1D or P1DT2H30M", s)
	}
	rest := strings.ToUpper(s)
	negative := false
	switch {
	case strings.HasPrefix(rest, "-"):
		negative, rest = true, rest[1:]
	case strings.HasPrefix(rest, "+"):
		rest = rest[1:]
	}
	if !strings.HasPrefix(rest, "P") {
		return bad()
	}
	rest = rest[1:]
	datePart, timePart, hasTime := strings.Cut(rest, "T")
	if hasTime && timePart == "" || datePart == "" && !hasTime {
		return bad()
	}
	var total float64 // in seconds; NB: float so that fractional seconds parse
	components := 0
	consume := func(part string, units map[byte]float64, order string) bool {
		next := 0 // index in order of the next allowed unit
		for part != "" {
			i := strings.IndexAny(part, order)
			if i <= 0 {
				return false
			}
			unit := part[i]
			pos := strings.IndexByte(order, unit)
			if pos < next {
				return false // units out of order or repeated
			}
			next = pos + 1
			n, err := strconv.ParseFloat(part[:i], 64)
			if err != nil || unit != 'S' && strings.Contains(part[:i], ".") {
				return false
			}
			total += n * units[unit]
			components++
			part = part[i+1:]
		}
		return true
	}
	if !consume(datePart, map[byte]float64{'D': 86400}, "D") ||
		!consume(timePart, map[byte]float64{'H': 3600, 'M': 60, 'S': 1}, "HMS") || components == 0 {
		return bad()
	}
	if negative {
		total = -total
	}
	return time.Duration(total * float64(time.Second)), nil
}

// parseResetStrategy turns reset-offsets' target flags, exactly one of which
// must be set, into a strategy. now anchors --by-duration.
func parseResetStrategy(toEarliest, toLatest, toCurrent bool, toOffset, toDatetime, shiftBy, byDuration string, now time.Time) (resetStrategy, error) {
	given := 0
	for _, set := range []bool{toEarliest, toLatest, toCurrent, toOffset != "", toDatetime != "", shiftBy != "", byDuration != ""} {
		if set {
			given++
		}
	}
	if given != 1 {
		return resetStrategy{}, usageErrorf("give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by, --by-duration, --to-current")
	}
	switch {
	case toEarliest:
		return resetStrategy{kind: resetToEarliest}, nil
	case toLatest:
		return resetStrategy{kind: resetToLatest}, nil
	case toCurrent:
		return resetStrategy{kind: resetToCurrent}, nil
	case toOffset != "":
		n, err := strconv.ParseInt(toOffset, 10, 64)
		if err != nil {
			return resetStrategy{}, usageErrorf("--to-offset must be a number, not %q", toOffset)
		}
		return resetStrategy{kind: resetToOffset, offset: n}, nil
	case shiftBy != "":
		n, err := strconv.ParseInt(shiftBy, 10, 64)
		if err != nil {
			return resetStrategy{}, usageErrorf("--shift-by must be a number, not %q", shiftBy)
		}
		return resetStrategy{kind: resetShiftBy, offset: n}, nil
	case toDatetime != "":
		t, err := parseResetDatetime(toDatetime)
		if err != nil {
			return resetStrategy{}, err
		}
		return resetStrategy{kind: resetToTime, millis: t.UnixMilli()}, nil
	default:
		d, err := parseISODuration(byDuration)
		if err != nil {
			return resetStrategy{}, err
		}
		return resetStrategy{kind: resetToTime, millis: now.Add(-d).UnixMilli()}, nil
	}
}

// inactiveGroupStates are the states in which a group's offsets may be reset:
// no member could overwrite them. Dead means the group does not exist yet.
var inactiveGroupStates = []string{"Empty", "Dead"}

func runGroupsResetOffsets(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("groups reset-offsets", "gregor groups reset-offsets --group G... (--topic T[:p,...]... | --all-topics) "+
		"(--to-earliest | --to-latest | --to-offset N | --to-datetime DT | --shift-by N | --by-duration PnDTnHnMnS | --to-current) [--dry-run | --execute]")
	bootstrap := addBootstrapFlag(fs)
	var groups, topicValues stringList
	fs.Var(&groups, "group", "consumer group whose offsets to reset; repeat for several")
	fs.Var(&topicValues, "topic", "`topic` to reset, or topic:p1,p2 for some partitions; repeat for several")
	allTopics := fs.Bool("all-topics", false, "reset every topic the group has committed offsets for")
	toEarliest := fs.Bool("to-earliest", false, "reset to the log start offset")
	toLatest := fs.Bool("to-latest", false, "reset to the log end offset")
	toCurrent := fs.Bool("to-current", false, "reset to the committed offset (the log end offset where none)")
	toOffset := fs.String("to-offset", "", "reset to offset `N`")
	toDatetime := fs.String("to-datetime", "", "reset to the first offset at or after `yyyy-MM-ddTHH:mm:ss.SSS[Z|+hh:mm]`\n(local time without a zone)")
	shiftBy := fs.String("shift-by", "", "move the committed offset by `N` (negative moves back)")
	byDuration := fs.String("by-duration", "", "reset to the first offset at or after now minus an ISO-8601 `duration` (PT1H, P1DT12H)")
	dryRun := fs.Bool("dry-run", false, "only print the new offsets (the default)")
	execute := fs.Bool("execute", false, "commit the new offsets")
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	if err := requireGroups(groups, false); err != nil {
		return err
	}
	if (len(topicValues) > 0) == *allTopics {
		return usageErrorf("give exactly one of --topic and --all-topics")
	}
	if *dryRun && *execute {
		return usageErrorf("--dry-run and --execute cannot be used together")
	}
	specs, err := parseTopicPartitions(topicValues)
	if err != nil {
		return err
	}
	strategy, err := parseResetStrategy(*toEarliest, *toLatest, *toCurrent, *toOffset, *toDatetime, *shiftBy, *byDuration, time.Now())
	if err != nil {
		return err
	}

	adm, closeAdmin, err := newAdmin(*bootstrap)
	if err != nil {
		return err
	}
	defer closeAdmin()

	// NB: every group is checked before any is reset, so that a refusal
	// leaves all of them as they were.
	described, err := adm.DescribeGroups(ctx, groups...)
	if err != nil && len(described) == 0 {
		return fmt.Errorf("describing groups: %w", err)
	}
	for _, g := range groups {
		d, ok := described[g]
		if !ok && err != nil {
			return fmt.Errorf("describing group %q: %w", g, err)
		} else if !ok {
			return fmt.Errorf("describing group %q: missing from the response", g)
		}
		state := d.State
		if errors.Is(d.Err, kerr.GroupIDNotFound) {
			state = "Dead"
		} else if d.Err != nil {
			return explainGroupError(g, d.Err, d.ErrMessage)
		}
		if !slices.Contains(inactiveGroupStates, state) {
			//lint:ignore ST1005 Kafka's message, verbatim
			return fmt.Errorf("Assignments can only be reset if the group '%s' is inactive, but the current state is %s.", g, state)
		}
	}

	var topicSet kadm.TopicsSet
	if !*allTopics {
		if topicSet, err = resolveTopicPartitions(ctx, adm, specs); err != nil {
			return err
		}
	}
	plans := make([]kadm.Offsets, len(groups))
	for i, g := range groups {
		if plans[i], err = planGroupReset(ctx, adm, g, topicSet, strategy); err != nil {
			return err
		}
	}
	var rows [][]string
	for i, g := range groups {
		if *execute {
			if err := commitGroupOffsets(ctx, adm, g, plans[i]); err != nil {
				return err
			}
		}
		for _, o := range plans[i].Sorted() {
			rows = append(rows, []string{g, o.Topic, strconv.Itoa(int(o.Partition)), strconv.FormatInt(o.At, 10)})
		}
	}
	if !*dryRun && !*execute {
		fmt.Fprintln(stderr, "WARN: No action will be performed as the --execute option is missing. Add --dry-run to keep this behavior without the warning.")
	}
	return writeTable(stdout, []string{"GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"}, rows)
}

// planGroupReset computes the new offsets of group on partitions, or, when
// partitions is nil, on every partition the group has committed offsets for.
func planGroupReset(ctx context.Context, adm *kadm.Client, group string, partitions kadm.TopicsSet, s resetStrategy) (kadm.Offsets, error) {
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return nil, explainGroupError(group, err, "")
	}
	if partitions == nil {
		partitions = make(kadm.TopicsSet)
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				partitions.Add(o.Topic, o.Partition)
			}
		})
	}
	topics := partitions.Topics()
	if len(topics) == 0 {
		return nil, nil
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing end offsets: %w", err)
	}
	var atTime kadm.ListedOffsets
	if s.kind == resetToTime {
		if atTime, err = adm.ListOffsetsAfterMilli(ctx, s.millis, topics...); err != nil {
			return nil, fmt.Errorf("listing offsets by time: %w", err)
		}
	}

	plan := make(kadm.Offsets)
	for _, t := range partitions.Sorted() {
		for _, p := range t.Partitions {
			var po partitionOffsets
			var err error
			if po.start, err = listedOffset(starts, t.Topic, p); err != nil {
				return nil, err
			}
			if po.end, err = listedOffset(ends, t.Topic, p); err != nil {
				return nil, err
			}
			po.committed, po.atTime = -1, -1
			if c, ok := committed.Lookup(t.Topic, p); ok && c.Err == nil {
				po.committed = c.At
			}
			if s.kind == resetToTime {
				if po.atTime, err = listedOffset(atTime, t.Topic, p); err != nil {
					return nil, err
				}
			}
			offset, err := planResetOffset(s, po, t.Topic, p)
			if err != nil {
				return nil, err
			}
			plan.Add(kadm.Offset{Topic: t.Topic, Partition: p, At: offset, LeaderEpoch: -1})
		}
	}
	return plan, nil
}

// listedOffset looks up one partition in a ListOffsets result.
func listedOffset(listed kadm.ListedOffsets, topic string, partition int32) (int64, error) {
	o, ok := listed.Lookup(topic, partition)
	switch {
	case !ok:
		return 0, &kafkaError{code: kerr.UnknownTopicOrPartition, sentence: fmt.Sprintf("topic %q has no partition %d", topic, partition)}
	case o.Err != nil:
		return 0, explainTopicError(topic, o.Err, "")
	}
	return o.Offset, nil
}

// commitGroupOffsets commits offsets for group, failing on the first
// partition the broker refused.
func commitGroupOffsets(ctx context.Context, adm *kadm.Client, group string, offsets kadm.Offsets) error {
	if len(offsets) == 0 {
		return nil
	}
	resps, err := adm.CommitOffsets(ctx, group, offsets)
	if err != nil {
		return explainGroupError(group, err, "")
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil {
			return explainGroupPartitionError(group, r.Topic, r.Partition, r.Err)
		}
	}
	return nil
}

func runGroupsDeleteOffsets(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("groups delete-offsets", "gregor groups delete-offsets --group G --topic T[:p,...]...")
	bootstrap := addBootstrapFlag(fs)
	group := fs.String("group", "", "consumer group whose offsets to delete")
	var topicValues stringList
	fs.Var(&topicValues, "topic", "`topic` whose offsets to delete, or topic:p1,p2 for some partitions; repeat for several")
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	if *group == "" {
		return usageErrorf("--group is required")
	}
	if len(topicValues) == 0 {
		return usageErrorf("--topic is required")
	}
	specs, err := parseTopicPartitions(topicValues)
	if err != nil {
		return err
	}
	adm, closeAdmin, err := newAdmin(*bootstrap)
	if err != nil {
		return err
	}
	defer closeAdmin()
	partitions, err := resolveTopicPartitions(ctx, adm, specs)
	if err != nil {
		return err
	}
	resps, err := adm.DeleteOffsets(ctx, *group, partitions)
	if err != nil {
		return explainGroupError(*group, err, "")
	}

	var rows [][]string
	var errs []error
	seen := make(map[string]bool)
	for _, t := range partitions.Sorted() {
		for _, p := range t.Partitions {
			status := "Successful"
			err, ok := resps.Lookup(t.Topic, p)
			if !ok {
				err = errors.New("missing from the response")
			}
			if err != nil {
				var code *kerr.Error
				if errors.As(err, &code) {
					status = "Error: " + code.Message
				} else {
					status = "Error: " + err.Error()
				}
				if err = explainGroupPartitionError(*group, t.Topic, p, err); !seen[err.Error()] {
					seen[err.Error()] = true
					errs = append(errs, err)
				}
			}
			rows = append(rows, []string{t.Topic, strconv.Itoa(int(p)), status})
		}
	}
	if err := writeTable(stdout, []string{"TOPIC", "PARTITION", "STATUS"}, rows); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return errors.Join(errs...)
}
