package partition

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata scripts")

// TestScripts runs the scripts in testdata/: each is a sequence of commands driving one State,
// each followed by `----` and the actions and state expected (etcd raft's datadriven shape).
// `go test -run TestScripts -rewrite` regenerates the expectations; review the diff.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runScript(t, file) })
	}
}

type scriptCase struct {
	line     int
	cmd      string
	expected string
}

func parseScript(t *testing.T, data string) []scriptCase {
	var out []scriptCase
	lines := strings.Split(data, "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		c := scriptCase{line: i + 1, cmd: l}
		i++
		if i >= len(lines) || strings.TrimSpace(lines[i]) != "----" {
			t.Fatalf("line %d: command %q not followed by ----", c.line, l)
		}
		var exp []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			exp = append(exp, lines[i])
		}
		c.expected = strings.Join(exp, "\n")
		out = append(out, c)
	}
	return out
}

func runScript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cases := parseScript(t, string(data))
	var d scriptDriver
	var rewritten strings.Builder
	// Keep comments that precede commands when rewriting.
	lines := strings.Split(string(data), "\n")
	next := 0
	for _, c := range cases {
		for ; next < c.line-1; next++ {
			if l := strings.TrimSpace(lines[next]); strings.HasPrefix(l, "#") {
				rewritten.WriteString(lines[next] + "\n")
			}
		}
		got, err := d.run(c.cmd)
		if err != nil {
			t.Fatalf("%s:%d: %s: %v", file, c.line, c.cmd, err)
		}
		got = strings.TrimRight(got, "\n")
		fmt.Fprintf(&rewritten, "%s\n----\n%s\n\n", c.cmd, got)
		if !*rewrite && got != c.expected {
			t.Errorf("%s:%d: %s\n got:\n%s\nwant:\n%s", file, c.line, c.cmd, got, c.expected)
		}
		for next < len(lines) && strings.TrimSpace(lines[next]) != "" {
			next++
		}
	}
	if *rewrite {
		if err := os.WriteFile(file, []byte(rewritten.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type scriptDriver struct {
	s   *State
	now int64
}

func (d *scriptDriver) run(line string) (string, error) {
	f := strings.Fields(line)
	cmd, args := f[0], map[string]string{}
	var flags []string
	for _, a := range f[1:] {
		if k, v, ok := strings.Cut(a, "="); ok {
			args[k] = v
		} else {
			flags = append(flags, a)
		}
	}
	num := func(k string, def int64) int64 {
		v, ok := args[k]
		if !ok {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			panic(fmt.Sprintf("%s=%q: %v", k, v, err))
		}
		return n
	}
	ids := func(k string) []int32 {
		var out []int32
		for _, s := range strings.Split(args[k], ",") {
			if s == "" {
				continue
			}
			n, _ := strconv.Atoi(s)
			out = append(out, int32(n))
		}
		return out
	}
	d.now = num("now", d.now)
	if cmd != "new" && d.s == nil {
		return "", errors.New("no state: start with new")
	}
	var act Actions
	var res string
	switch cmd {
	case "new":
		d.s = NewState(int32(num("id", 1)), Config{MinInsyncReplicas: int(num("min-isr", 1)), ReplicaLagTimeMaxMs: num("lag", 10000)},
			num("log-start", 0), num("leo", 0), num("hw", 0))
	case "assign":
		a := Assignment{Leader: int32(num("leader", -1)), LeaderEpoch: int32(num("epoch", 0)), PartitionEpoch: int32(num("pepoch", 0)),
			Replicas: ids("replicas"), ISR: ids("isr")}
		var err error
		act, err = d.s.ApplyAssignment(a, d.now)
		res = errString(err)
	case "append":
		act = d.s.LeaderAppended(num("leo", 0), d.now)
	case "ack":
		act = d.s.AddAckWaiter(uint64(num("id", 0)), num("end", 0))
	case "timeout":
		act = d.s.AckTimedOut(uint64(num("id", 0)))
	case "fetch":
		var err error
		act, err = d.s.FollowerFetched(int32(num("replica", 0)), num("offset", 0), d.now)
		res = errString(err)
	case "shrink":
		act = d.s.MaybeShrinkISR(d.now)
	case "proposal-failed":
		if d.s.pending == nil {
			return "", errors.New("no proposal in flight")
		}
		d.s.ProposalFailed(*d.s.pending)
	case "follower-append":
		act = d.s.FollowerAppended(num("leo", 0))
	case "follower-hw":
		act = d.s.FollowerHighWatermark(num("hw", 0))
	case "check-epoch":
		res = errString(d.s.CheckEpoch(int32(num("epoch", -1)), len(flags) > 0 && flags[0] == "leader"))
	case "check-produce":
		res = errString(d.s.CheckProduce(int16(num("acks", -1))))
	case "config":
		act = d.s.SetConfig(Config{MinInsyncReplicas: int(num("min-isr", 1)), ReplicaLagTimeMaxMs: num("lag", 10000)}, d.now)
	case "state":
	default:
		return "", fmt.Errorf("unknown command %q", cmd)
	}
	var b strings.Builder
	if res != "" {
		fmt.Fprintf(&b, "result: %s\n", res)
	}
	b.WriteString(formatActions(act))
	fmt.Fprintf(&b, "state: %s", formatState(d.s))
	return b.String(), nil
}

func errString(err error) string {
	var ke *kerr.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ke):
		return ke.Message
	case errors.Is(err, ErrStaleAssignment):
		return "stale assignment"
	}
	return err.Error()
}

func formatActions(a Actions) string {
	var b strings.Builder
	if a.HighWatermarkChanged {
		fmt.Fprintf(&b, "hw -> %d\n", a.HighWatermark)
	}
	for _, c := range a.Completed {
		r := "ok"
		if c.Err != nil {
			r = errString(c.Err)
		}
		fmt.Fprintf(&b, "ack %d: %s\n", c.ID, r)
	}
	if p := a.Propose; p != nil {
		fmt.Fprintf(&b, "propose isr=%s (epoch=%d pepoch=%d)\n", formatIDs(p.NewISR), p.LeaderEpoch, p.PartitionEpoch)
	}
	if a.Wake {
		b.WriteString("wake\n")
	}
	return b.String()
}

func formatIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return "[" + strings.Join(s, ",") + "]"
}

func formatState(s *State) string {
	out := fmt.Sprintf("%s leader=%d epoch=%d pepoch=%d isr=%s", s.role, s.leader, s.leaderEpoch, s.partitionEpoch, formatIDs(s.isr))
	if s.pending != nil {
		out += " maximal=" + formatIDs(s.MaximalISR())
	}
	out += fmt.Sprintf(" hw=%d leo=%d", s.highWatermark, s.logEndOffset)
	if s.role == RoleLeader {
		out += fmt.Sprintf(" epoch-start=%d", s.epochStartOffset)
		for _, id := range s.replicas {
			if f := s.followers[id]; f != nil {
				out += fmt.Sprintf(" r%d=%d", id, f.logEndOffset)
			}
		}
		if len(s.acks) > 0 {
			out += fmt.Sprintf(" waiting=%d", len(s.acks))
		}
	}
	return out
}
