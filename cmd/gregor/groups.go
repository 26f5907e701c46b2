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

	"github.com/gregor-streams/gregor/admin"
	"github.com/gregor-streams/gregor/internal/progress"
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

	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
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

	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
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
	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
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

// parseResetStrategy turns reset-offsets' target flags, exactly one of which
// must be set, into a strategy. now anchors --by-duration.
func parseResetStrategy(toEarliest, toLatest, toCurrent bool, toOffset, toDatetime, shiftBy, byDuration string, now time.Time) (admin.ResetStrategy, error) {
	given := 0
	for _, set := range []bool{toEarliest, toLatest, toCurrent, toOffset != "", toDatetime != "", shiftBy != "", byDuration != ""} {
		if set {
			given++
		}
	}
	if given != 1 {
		return admin.ResetStrategy{}, usageErrorf("give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by, --by-duration, --to-current")
	}
	switch {
	case toEarliest:
		return admin.ResetStrategy{Kind: admin.ResetToEarliest}, nil
	case toLatest:
		return admin.ResetStrategy{Kind: admin.ResetToLatest}, nil
	case toCurrent:
		return admin.ResetStrategy{Kind: admin.ResetToCurrent}, nil
	case toOffset != "":
		n, err := strconv.ParseInt(toOffset, 10, 64)
		if err != nil {
			return admin.ResetStrategy{}, usageErrorf("--to-offset must be a number, not %q", toOffset)
		}
		return admin.ResetStrategy{Kind: admin.ResetToOffset, Offset: n}, nil
	case shiftBy != "":
		n, err := strconv.ParseInt(shiftBy, 10, 64)
		if err != nil {
			return admin.ResetStrategy{}, usageErrorf("--shift-by must be a number, not %q", shiftBy)
		}
		return admin.ResetStrategy{Kind: admin.ResetShiftBy, Offset: n}, nil
	case toDatetime != "":
		t, err := admin.ParseDatetime(toDatetime)
		if err != nil {
			return admin.ResetStrategy{}, usageErrorf("--to-datetime %q is not of the form yyyy-MM-ddTHH:mm:ss.SSS[Z|+hh:mm]", toDatetime)
		}
		return admin.ResetStrategy{Kind: admin.ResetToTime, Millis: t.UnixMilli()}, nil
	default:
		d, err := admin.ParseISODuration(byDuration)
		if err != nil {
			return admin.ResetStrategy{}, usageErrorf("--by-duration %q is not an ISO-8601 duration such as PT1H, P1D or P1DT2H30M", byDuration)
		}
		return admin.ResetStrategy{Kind: admin.ResetToTime, Millis: now.Add(-d).UnixMilli()}, nil
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
	progressInterval := fs.Duration("progress-interval", 2*time.Second,
		"with --execute, how often to print progress lines to stderr while committing (0: after every batch of partitions)")
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

	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
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
		if plans[i], err = admin.PlanGroupReset(ctx, adm, g, topicSet, strategy); err != nil {
			return explainPlanError(err)
		}
	}
	var rows [][]string
	for i, g := range groups {
		if *execute {
			if err := commitResetWithProgress(ctx, adm, g, plans[i], *progressInterval, stderr); err != nil {
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

// explainPlanError words admin.PlanGroupReset's errors as the other groups subcommands do.
func explainPlanError(err error) error {
	var ge *admin.GroupError
	var pe *admin.PartitionError
	switch {
	case errors.As(err, &ge):
		return explainGroupError(ge.Group, ge.Err, "")
	case errors.As(err, &pe) && pe.Missing:
		return &kafkaError{code: kerr.UnknownTopicOrPartition, sentence: pe.Error()}
	case errors.As(err, &pe):
		return explainTopicError(pe.Topic, pe.Err, "")
	}
	return err
}

// resetCommitBatch is how many partitions reset-offsets --execute commits per request (a
// variable for tests).
var resetCommitBatch = admin.DefaultCommitBatchPartitions

// commitResetWithProgress commits a reset plan in batches of partitions, printing a progress line
// with percent and ETA to stderr at most once per interval while it lasts.
func commitResetWithProgress(ctx context.Context, adm *kadm.Client, group string, plan kadm.Offsets, interval time.Duration, stderr io.Writer) error {
	batches := admin.SplitOffsets(plan, resetCommitBatch)
	total := 0
	for _, b := range batches {
		total += len(b.Sorted())
	}
	tracker := progress.NewTracker(int64(total), interval, func(p progress.Progress) {
		fmt.Fprintf(stderr, "Resetting offsets of group '%s': %s\n", group, p.Format("partitions"))
	})
	done := 0
	for _, b := range batches {
		if err := commitGroupOffsets(ctx, adm, group, b); err != nil {
			return err
		}
		done += len(b.Sorted())
		if done < total {
			tracker.Update(int64(done))
		}
	}
	return nil
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
	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
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
