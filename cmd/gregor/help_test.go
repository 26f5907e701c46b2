package main

import (
	"regexp"
	"strings"
	"testing"
)

// Every command and subcommand answers --help the same way: exit 0, a one-line synopsis on
// stdout, examples, and flags spelled with two dashes.
func TestEveryCommandHasTheSameHelp(t *testing.T) {
	singleDashLong := regexp.MustCompile(`(?m)^  -[a-z][a-z-]+`)
	for name := range commandExamples {
		args := append(strings.Fields(name), "--help")
		r := gregor(t, "", args...)
		if r.exit != 0 || r.stderr != "" {
			t.Errorf("gregor %s: exit %d, stderr %q", strings.Join(args, " "), r.exit, r.stderr)
		}
		if !strings.HasPrefix(r.stdout, "Usage: gregor "+name) || !strings.Contains(r.stdout, "\nExamples:\n  gregor ") && !strings.Contains(r.stdout, "| gregor ") {
			t.Errorf("gregor %s --help lacks the synopsis or examples:\n%s", name, r.stdout)
		}
		if m := singleDashLong.FindString(r.stdout); m != "" {
			t.Errorf("gregor %s --help spells a flag %q with one dash", name, m)
		}
	}
	for _, c := range commands {
		if c.name == "version" {
			continue // NB: takes no flags; its own file (version.go) rejects --help as an argument
		}
		if r := gregor(t, "", c.name, "--help"); r.exit != 0 || !strings.HasPrefix(r.stdout, "Usage: gregor "+c.name) {
			t.Errorf("gregor %s --help: exit %d, stdout %q", c.name, r.exit, r.stdout)
		}
	}
	if r := gregor(t, "", "connect", "--help"); !strings.Contains(r.stdout, "\n  distributed worker.properties\n") {
		t.Errorf("gregor connect --help does not list distributed:\n%s", r.stdout)
	}
	for _, args := range [][]string{{"connect", "standalone", "--help"}, {"connect", "distributed", "--help"}} {
		if r := gregor(t, "", args...); r.exit != 0 || !strings.HasPrefix(r.stdout, "Usage: gregor connect") {
			t.Errorf("gregor %v: exit %d, stdout %q", args, r.exit, r.stdout)
		}
	}
}

// An unknown command or subcommand names the nearest one.
func TestUnknownCommandSuggestsTheNearest(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"topcs"}, "error: unknown command \"topcs\"; did you mean \"topics\"?\n"},
		{[]string{"consumer"}, "error: unknown command \"consumer\"; did you mean \"consume\"?\n"},
		{[]string{"prod"}, "error: unknown command \"prod\"; did you mean \"produce\"?\n"},
		{[]string{"zzzzzz"}, "error: unknown command \"zzzzzz\"\n"},
		{[]string{"topics", "lst"}, "error: topics: unknown subcommand \"lst\"; did you mean \"list\"?\n"},
		{[]string{"groups", "describ"}, "error: groups: unknown subcommand \"describ\"; did you mean \"describe\"?\n"},
		{[]string{"connect", "distrib"}, "error: connect: unknown subcommand \"distrib\"; did you mean \"distributed\"?\n"},
	} {
		r := gregor(t, "", tc.args...)
		lines := strings.SplitAfter(r.stderr, "\n")
		last := ""
		if len(lines) >= 2 {
			last = lines[len(lines)-2]
		}
		if r.exit != 2 || last != tc.want {
			t.Errorf("gregor %v: exit %d, last stderr line %q; want exit 2, %q", tc.args, r.exit, last, tc.want)
		}
	}
}
