package fetchsession

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata scripts")

// TestScripts runs testdata/*.txt: each command drives one Cache, and is followed by `----` and
// what it must answer (etcd raft's datadriven shape). `go test -run TestScripts -rewrite`
// regenerates the expectations; review the diff.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runScript(t, file) })
	}
}

func runScript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	d := newDriver()
	var out strings.Builder
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			out.WriteString(lines[i] + "\n")
			continue
		}
		line := i + 1
		i++
		if i >= len(lines) || strings.TrimSpace(lines[i]) != "----" {
			t.Fatalf("%s:%d: command %q not followed by ----", file, line, l)
		}
		var exp []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			exp = append(exp, lines[i])
		}
		got, err := d.run(l)
		if err != nil {
			t.Fatalf("%s:%d: %s: %v", file, line, l, err)
		}
		if want := strings.Join(exp, "\n"); got != want && !*rewrite {
			t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", file, line, l, got, want)
		}
		out.WriteString(l + "\n----\n" + got + "\n")
		if i < len(lines) {
			out.WriteString("\n")
		}
	}
	if *rewrite {
		if err := os.WriteFile(file, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// partState is the driver's stand-in for a partition's log.
type partState struct {
	hw, logStart int64
	err          int16
}

type driver struct {
	cache *Cache
	now   time.Time
	ids   []int32
	logs  map[string]*partState
}

func newDriver() *driver {
	return &driver{now: time.Unix(1000, 0), logs: map[string]*partState{}}
}

func (d *driver) ensureCache() {
	if d.cache == nil {
		d.cache = NewCache(Config{MaxSlots: DefaultMaxSlots, MinEviction: DefaultMinEviction, NewID: d.nextID})
	}
}

func (d *driver) nextID() int32 {
	if len(d.ids) == 0 {
		return 0
	}
	id := d.ids[0]
	d.ids = d.ids[1:]
	return id
}

func topicID(name string) [16]byte {
	var id [16]byte
	copy(id[:], name)
	return id
}

func topicName(id [16]byte) string { return strings.TrimRight(string(id[:]), "\x00") }

// args splits "cmd k=v k=v flag" into the command and its arguments.
func args(line string) (string, map[string]string) {
	f := strings.Fields(line)
	m := map[string]string{}
	for _, a := range f[1:] {
		k, v, _ := strings.Cut(a, "=")
		m[k] = v
	}
	return f[0], m
}

func (d *driver) run(line string) (string, error) {
	cmd, a := args(line)
	switch cmd {
	case "cache":
		cfg := Config{MaxSlots: DefaultMaxSlots, MinEviction: DefaultMinEviction, NewID: d.nextID}
		if v, ok := a["slots"]; ok {
			cfg.MaxSlots, _ = strconv.Atoi(v)
		}
		if v, ok := a["eviction-ms"]; ok {
			ms, _ := strconv.Atoi(v)
			cfg.MinEviction = time.Duration(ms) * time.Millisecond
		}
		d.cache = NewCache(cfg)
		return "ok", nil
	case "ids":
		d.ids = nil
		for _, s := range strings.Split(a["next"], ",") {
			n, err := strconv.Atoi(s)
			if err != nil {
				return "", err
			}
			d.ids = append(d.ids, int32(n))
		}
		return "ok", nil
	case "tick":
		ms, err := strconv.Atoi(a["ms"])
		if err != nil {
			return "", err
		}
		d.now = d.now.Add(time.Duration(ms) * time.Millisecond)
		return "ok", nil
	case "log":
		// log a:0 hw=10 start=0 err=0
		for k := range a {
			if strings.Contains(k, ":") {
				ps := d.logs[k]
				if ps == nil {
					ps = &partState{}
					d.logs[k] = ps
				}
				if v, ok := a["hw"]; ok {
					ps.hw, _ = strconv.ParseInt(v, 10, 64)
				}
				if v, ok := a["start"]; ok {
					ps.logStart, _ = strconv.ParseInt(v, 10, 64)
				}
				if v, ok := a["err"]; ok {
					n, _ := strconv.Atoi(v)
					ps.err = int16(n)
				}
			}
		}
		return "ok", nil
	case "fetch":
		return d.fetch(a)
	case "stats":
		d.ensureCache()
		st := d.cache.Stats()
		return fmt.Sprintf("sessions=%d partitions=%d evictions=%d omitted=%d", st.Sessions, st.Partitions, st.Evictions, st.Omitted), nil
	}
	return "", fmt.Errorf("unknown command %q", cmd)
}

// fetch v=13 id=0 epoch=0 replica parts=a:0@5,a:1@0 forget=a:2
func (d *driver) fetch(a map[string]string) (string, error) {
	d.ensureCache()
	r := kmsg.NewPtrFetchRequest()
	r.Version = 13
	if v, ok := a["v"]; ok {
		n, _ := strconv.Atoi(v)
		r.Version = int16(n)
	}
	id, _ := strconv.Atoi(a["id"])
	epoch, _ := strconv.Atoi(a["epoch"])
	r.SessionID, r.SessionEpoch = int32(id), int32(epoch)
	topicIndex := map[string]int{}
	if v := a["parts"]; v != "" {
		for _, p := range strings.Split(v, ",") {
			tp, off, _ := strings.Cut(p, "@")
			topic, part, _ := strings.Cut(tp, ":")
			pn, _ := strconv.Atoi(part)
			offset, _ := strconv.ParseInt(off, 10, 64)
			i, ok := topicIndex[topic]
			if !ok {
				i = len(r.Topics)
				topicIndex[topic] = i
				rt := kmsg.NewFetchRequestTopic()
				if r.Version >= 13 {
					rt.TopicID = topicID(topic)
				} else {
					rt.Topic = topic
				}
				r.Topics = append(r.Topics, rt)
			}
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset = int32(pn), offset
			r.Topics[i].Partitions = append(r.Topics[i].Partitions, rp)
		}
	}
	if v := a["forget"]; v != "" {
		for _, p := range strings.Split(v, ",") {
			topic, part, _ := strings.Cut(p, ":")
			pn, _ := strconv.Atoi(part)
			ft := kmsg.NewFetchRequestForgottenTopic()
			if r.Version >= 13 {
				ft.TopicID = topicID(topic)
			} else {
				ft.Topic = topic
			}
			ft.Partitions = []int32{int32(pn)}
			r.ForgottenTopics = append(r.ForgottenTopics, ft)
		}
	}
	_, replica := a["replica"]
	fc := d.cache.Resolve(r, replica, d.now)
	var out []string
	var served []string
	resp := fc.Request.ResponseKind().(*kmsg.FetchResponse)
	if fc.ErrorCode == 0 {
		for _, rt := range fc.Request.Topics {
			name := rt.Topic
			if fc.Request.Version >= 13 {
				name = topicName(rt.TopicID)
			}
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				key := fmt.Sprintf("%s:%d", name, rp.Partition)
				served = append(served, fmt.Sprintf("%s@%d", key, rp.FetchOffset))
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				ps := d.logs[key]
				switch {
				case ps == nil:
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				case ps.err != 0:
					sp.ErrorCode = ps.err
				default:
					sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = ps.hw, ps.hw, ps.logStart
					if rp.FetchOffset < ps.hw {
						sp.RecordBatches = []byte("records")
					}
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		out = append(out, "serve: "+strings.Join(served, " "))
	}
	fc.Filter(resp, d.now)
	if resp.ErrorCode != 0 {
		out = append(out, fmt.Sprintf("error: %s session=%d", kerr.ErrorForCode(resp.ErrorCode).(*kerr.Error).Message, resp.SessionID))
		return strings.Join(out, "\n"), nil
	}
	var answered []string
	for _, rt := range resp.Topics {
		name := rt.Topic
		if fc.Request.Version >= 13 {
			name = topicName(rt.TopicID)
		}
		for _, rp := range rt.Partitions {
			s := fmt.Sprintf("%s:%d hw=%d", name, rp.Partition, rp.HighWatermark)
			if rp.ErrorCode != 0 {
				s = fmt.Sprintf("%s:%d err=%s", name, rp.Partition, kerr.ErrorForCode(rp.ErrorCode).(*kerr.Error).Message)
			}
			if len(rp.RecordBatches) > 0 {
				s += " records"
			}
			answered = append(answered, s)
		}
	}
	slices.Sort(answered)
	out = append(out, fmt.Sprintf("answer: session=%d [%s]", resp.SessionID, strings.Join(answered, ", ")))
	return strings.Join(out, "\n"), nil
}
