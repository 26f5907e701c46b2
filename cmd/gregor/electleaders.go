package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func runTopicsElectLeaders(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("topics elect-leaders", "gregor topics elect-leaders [--election-type preferred|unclean] (--topic T [--partition N] | --all-topic-partitions)")
	fs.about = "Elects partition leaders, as kafka-leader-election.sh does: preferred moves leadership back to\n" +
		"the first replica when it is in the ISR; unclean elects a live replica outside the ISR for a partition\n" +
		"that has no leader (records the old leader had may be lost)."
	bootstrap := addBootstrapFlag(fs)
	electionType := fs.String("election-type", "preferred", "preferred or unclean")
	topic := fs.String("topic", "", "topic whose partitions to elect")
	partition := fs.Int("partition", -1, "one partition of --topic; all of its partitions if not given")
	all := fs.Bool("all-topic-partitions", false, "every partition of every topic")
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	var how kadm.ElectLeadersHow
	switch strings.ToLower(*electionType) {
	case "preferred":
		how = kadm.ElectPreferredReplica
	case "unclean":
		how = kadm.ElectLiveReplica
	default:
		return usageErrorf("--election-type must be preferred or unclean, not %q", *electionType)
	}
	switch {
	case *all && (*topic != "" || *partition >= 0):
		return usageErrorf("--all-topic-partitions cannot be combined with --topic or --partition")
	case !*all && *topic == "":
		return usageErrorf("give --topic or --all-topic-partitions")
	case *partition >= 0 && *topic == "":
		return usageErrorf("--partition needs --topic")
	}
	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
	if err != nil {
		return err
	}
	defer closeAdmin()
	var set kadm.TopicsSet // nil: every partition
	if !*all {
		set = kadm.TopicsSet{}
		if *partition >= 0 {
			set.Add(*topic, int32(*partition))
		} else {
			details, err := adm.ListTopics(ctx, *topic)
			if err != nil {
				return fmt.Errorf("describing topic %q: %w", *topic, err)
			}
			d := details[*topic]
			if d.Err != nil {
				return explainTopicError(*topic, d.Err, "")
			}
			for _, p := range d.Partitions.Sorted() {
				set.Add(*topic, p.Partition)
			}
		}
	}
	results, err := adm.ElectLeaders(ctx, how, set)
	if err != nil {
		return fmt.Errorf("electing leaders: %w", err)
	}
	return printElectionResults(stdout, strings.ToUpper(*electionType), results)
}

// printElectionResults reports as kafka-leader-election.sh: partitions elected, partitions whose
// valid leader was already elected, and failures (an error if there is any).
func printElectionResults(w io.Writer, election string, results kadm.ElectLeadersResults) error {
	var elected, notNeeded, failed []string
	for _, r := range sortedElections(results) {
		name := fmt.Sprintf("%s-%d", r.Topic, r.Partition)
		switch {
		case r.Err == nil:
			elected = append(elected, name)
		case errors.Is(r.Err, kerr.ElectionNotNeeded):
			notNeeded = append(notNeeded, name)
		default:
			msg := r.ErrMessage
			if msg == "" {
				msg = r.Err.Error()
			} else {
				msg = r.Err.Error() + ": " + msg
			}
			failed = append(failed, name+": "+msg)
		}
	}
	if len(elected) > 0 {
		fmt.Fprintf(w, "Successfully completed leader election (%s) for partitions %s\n", election, strings.Join(elected, ", "))
	}
	if len(notNeeded) > 0 {
		fmt.Fprintf(w, "Valid replica already elected for partitions %s\n", strings.Join(notNeeded, ", "))
	}
	if len(elected) == 0 && len(notNeeded) == 0 && len(failed) == 0 {
		fmt.Fprintln(w, "No partition needed an election.")
	}
	if len(failed) > 0 {
		return fmt.Errorf("leader election (%s) failed for %d partitions:\n  %s", election, len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}

// sortedElections orders results by topic, then partition.
func sortedElections(results kadm.ElectLeadersResults) []kadm.ElectLeadersResult {
	var out []kadm.ElectLeadersResult
	for _, ps := range results {
		for _, r := range ps {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(x, y kadm.ElectLeadersResult) int {
		if c := strings.Compare(x.Topic, y.Topic); c != 0 {
			return c
		}
		return int(x.Partition - y.Partition)
	})
	return out
}
