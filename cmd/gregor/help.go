package main

import (
	"fmt"
	"io"
	"slices"
)

// commandExamples are shown by `--help` under a command's synopsis, keyed by its flag set's
// name. They use the defaults of `gregor dev`, so they run as printed against it.
var commandExamples = map[string][]string{
	"dev": {
		"gregor dev",
		"gregor dev --listen 127.0.0.1:19092 --connect-listen 127.0.0.1:18083 --data /tmp/gregor",
		"gregor dev --set auto.create.topics.enable=false",
		"gregor dev --brokers 3 --data /tmp/gregor-cluster",
	},
	"server": {
		"gregor server --config deploy/server.properties",
		"gregor server deploy/server.properties --set log.dirs=/var/lib/gregor",
	},
	"produce": {
		"printf 'o-1:apples\\no-2:pears\\n' | gregor produce --topic orders --key-separator :",
		"echo 'o-1:NULL' | gregor produce --topic orders --key-separator : --null-marker NULL   # a tombstone for o-1",
		"echo 'o-1:apples' | gregor produce --topic orders --property parse.key=true --property key.separator=:",
	},
	"consume": {
		"gregor consume --topic orders --from-beginning --print-key --max-messages 2",
		"gregor consume --topic orders --group billing --from-beginning",
		"gregor consume --topic orders --partition 0 --offset 5 --print-offset",
	},
	"topics create":        {"gregor topics create --topic orders --partitions 3 --config retention.ms=604800000"},
	"topics list":          {"gregor topics list"},
	"topics describe":      {"gregor topics describe --topic orders", "gregor topics describe --under-replicated-partitions"},
	"topics delete":        {"gregor topics delete --topic orders"},
	"topics alter-configs": {"gregor topics alter-configs --topic orders --config retention.ms=86400000 --delete-config cleanup.policy"},
	"topics reassign": {
		"gregor topics reassign --topic orders --partition 0 --replicas 2,3,1",
		"gregor topics reassign --reassignment-json-file plan.json --execute",
		"gregor topics reassign --reassignment-json-file plan.json --verify",
		"gregor topics reassign --generate --topics orders --broker-list 1,2,4",
	},
	"topics elect-leaders": {"gregor topics elect-leaders --topic orders", "gregor topics elect-leaders --all-topic-partitions"},
	"cluster status":       {"gregor cluster status", "gregor cluster status -b 127.0.0.1:9092,127.0.0.1:9093"},
	"groups list":          {"gregor groups list", "gregor groups list --state Stable"},
	"groups describe":      {"gregor groups describe --group billing", "gregor groups describe --all-groups --members"},
	"groups delete":        {"gregor groups delete --group billing"},
	"groups reset-offsets": {
		"gregor groups reset-offsets --group billing --topic orders --to-earliest --dry-run",
		"gregor groups reset-offsets --group billing --topic orders:0,1 --shift-by -10 --execute",
	},
	"groups delete-offsets": {"gregor groups delete-offsets --group billing --topic orders"},
	"perf produce":          {"gregor perf produce --topic perf --partitions 6 --num-records 1000000 --record-size 100"},
	"perf consume":          {"gregor perf consume --topic perf --messages 1000000"},
	"perf e2e":              {"gregor perf e2e --topic e2e --num-records 10000 --throughput 1000 --record-size 100"},
	"connect list":          {"gregor connect list"},
	"connect status":        {"gregor connect status", "gregor connect status lines"},
	"connect create":        {"gregor connect create -f source.json"},
	"connect delete":        {"gregor connect delete lines"},
	"connect restart":       {"gregor connect restart lines --include-tasks --only-failed"},
	"connect pause":         {"gregor connect pause lines"},
	"connect resume":        {"gregor connect resume lines"},
	"connect plugins":       {"gregor connect plugins"},
}

// printExamples prints the examples of the command named name, if it has any.
func printExamples(w io.Writer, name string) {
	examples := commandExamples[name]
	if len(examples) == 0 {
		return
	}
	fmt.Fprintf(w, "\nExamples:\n")
	for _, e := range examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
}

// nearest returns the candidate closest to name by edit distance, if it is close enough to be
// what was meant (at most two edits, or a prefix), else "".
func nearest(name string, candidates []string) string {
	best, bestDistance := "", 3
	for _, c := range slices.Sorted(slices.Values(candidates)) {
		if len(name) >= 2 && len(c) > len(name) && c[:len(name)] == name {
			return c
		}
		if d := editDistance(name, c); d < bestDistance {
			best, bestDistance = c, d
		}
	}
	return best
}

// didYouMean is the "; did you mean ...?" suffix of an unknown-command error, or "".
func didYouMean(name string, candidates []string) string {
	if n := nearest(name, candidates); n != "" {
		return fmt.Sprintf("; did you mean %q?", n)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, counted in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// isHelp reports whether a command that parses its own arguments was asked for help.
func isHelp(args []string) bool {
	return len(args) > 0 && slices.Contains([]string{"-h", "-help", "--help", "help"}, args[0])
}
