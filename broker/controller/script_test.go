package controller

import (
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The scripted tests: testdata/*.txt hold commands, each followed by "----" and the records and reply it
// produced, in the style of etcd raft's and pebble's datadriven tests. Run with -rewrite to regenerate the
// expected output after an intended change (and read the diff).

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of the scripted tests")

type scriptCase struct {
	pos, comment, cmd, want string
}

// parseScript splits a script into cases: command line(s), "----", output up to a blank line.
func parseScript(t *testing.T, path string) []scriptCase {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var cases []scriptCase
	var comment []string
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.HasPrefix(line, "#") {
			comment = append(comment, line)
			continue
		}
		if strings.TrimSpace(line) == "" {
			if len(comment) > 0 {
				comment = append(comment, "")
			}
			continue
		}
		c := scriptCase{pos: fmt.Sprintf("%s:%d", filepath.Base(path), i+1), comment: strings.Join(comment, "\n")}
		comment = nil
		var cmd []string
		for ; i < len(lines) && lines[i] != "----"; i++ {
			cmd = append(cmd, lines[i])
		}
		c.cmd = strings.Join(cmd, "\n")
		var out []string
		for i++; i < len(lines) && lines[i] != ""; i++ {
			out = append(out, lines[i])
		}
		c.want = strings.Join(out, "\n")
		cases = append(cases, c)
	}
	return cases
}

func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scripts in testdata")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			h := newHarness(t)
			var rewritten strings.Builder
			for _, c := range parseScript(t, f) {
				got := h.run(c.cmd)
				if *rewrite {
					if c.comment != "" {
						rewritten.WriteString(strings.TrimRight(c.comment, "\n") + "\n")
						if strings.HasSuffix(c.comment, "\n") {
							rewritten.WriteString("\n")
						}
					}
					fmt.Fprintf(&rewritten, "%s\n----\n%s\n\n", c.cmd, got)
					continue
				}
				if got != c.want {
					t.Errorf("%s: %s\n got:\n%s\nwant:\n%s", c.pos, c.cmd, got, c.want)
				}
			}
			if *rewrite {
				if err := os.WriteFile(f, []byte(rewritten.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// harness drives a Controller the way the quorum will: handle, then commit the batch at the next offset.
type harness struct {
	t      *testing.T
	c      *Controller
	now    time.Time
	offset int64
	held   [][]metadata.Record
	nextID byte
	names  map[metadata.Uuid]string
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, now: time.Unix(1000, 0), names: map[metadata.Uuid]string{}}
	cfg := DefaultConfig()
	cfg.Rand = mrand.New(mrand.NewPCG(1, 2))
	cfg.ClusterID = "test-cluster"
	cfg.NewTopicID = func() metadata.Uuid {
		h.nextID++
		return metadata.Uuid{15: h.nextID}
	}
	h.c = New(cfg, metadata.Empty())
	h.c.BecomeActive(h.now, 1)
	return h
}

type args map[string]string

func (a args) str(k, def string) string {
	if v, ok := a[k]; ok {
		return v
	}
	return def
}

func (a args) num(k string, def int64) int64 {
	v, ok := a[k]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		panic(fmt.Sprintf("argument %s=%q: %v", k, v, err))
	}
	return n
}

func (a args) has(k string) bool { _, ok := a[k]; return ok }

func int32s(s string) []int32 {
	if s == "" || s == "-" {
		return []int32{}
	}
	var out []int32
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			panic(fmt.Sprintf("broker list %q: %v", s, err))
		}
		out = append(out, int32(n))
	}
	return out
}

func parseArgs(fields []string) args {
	a := args{}
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		a[k] = v
	}
	return a
}

// run executes one command and renders its records and reply.
func (h *harness) run(cmd string) string {
	fields := strings.Fields(cmd)
	a := parseArgs(fields[1:])
	var req kmsg.Request
	img := h.c.Image()
	switch fields[0] {
	case "advance":
		d, err := time.ParseDuration(fields[1])
		if err != nil {
			panic(err)
		}
		h.now = h.now.Add(d)
		return fmt.Sprintf("now +%s", h.now.Sub(time.Unix(1000, 0)))
	case "cluster":
		// cluster n=N registers brokers 1..N and unfences them (quietly).
		for id := int32(1); id <= int32(a.num("n", 3)); id++ {
			for _, c := range []string{"register id=%d", "heartbeat id=%d"} {
				if out := h.run(fmt.Sprintf(c, id)); strings.Contains(out, "ErrorCode") {
					return out
				}
			}
		}
		return fmt.Sprintf("alive brokers %v", h.c.Image().AliveBrokers())
	case "commit":
		return h.commitHeld()
	case "show":
		return h.show()
	case "tick":
		res, err := h.c.Tick(h.now)
		return h.result(res, err, a.has("hold"))
	case "register":
		r := kmsg.NewPtrBrokerRegistrationRequest()
		r.BrokerID = int32(a.num("id", 0))
		r.IncarnationID = [16]byte{byte(a.num("incarnation", a.num("id", 0)))}
		r.PreviousBrokerEpoch = a.num("prev-epoch", -1)
		r.ClusterID = a.str("cluster", "test-cluster")
		l := kmsg.NewBrokerRegistrationRequestListener()
		l.Name, l.Host, l.Port = "PLAINTEXT", "127.0.0.1", uint16(9090+r.BrokerID)
		r.Listeners = append(r.Listeners, l)
		req = r
	case "heartbeat":
		r := kmsg.NewPtrBrokerHeartbeatRequest()
		r.BrokerID = int32(a.num("id", 0))
		r.BrokerEpoch = h.epochOf(r.BrokerID, a)
		r.CurrentMetadataOffset = a.num("offset", h.c.Committed().Offset())
		r.WantFence = a.has("want-fence")
		r.WantShutdown = a.has("want-shutdown")
		req = r
	case "create-topic":
		r := kmsg.NewPtrCreateTopicsRequest()
		for _, name := range strings.Split(a.str("name", ""), ",") {
			t := kmsg.NewCreateTopicsRequestTopic()
			t.Topic = name
			t.NumPartitions = int32(a.num("partitions", -1))
			t.ReplicationFactor = int16(a.num("rf", -1))
			if as, ok := a["assign"]; ok {
				for i, reps := range strings.Split(as, ";") {
					ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
					ra.Partition, ra.Replicas = int32(i), int32s(reps)
					t.ReplicaAssignment = append(t.ReplicaAssignment, ra)
				}
			}
			if cs, ok := a["configs"]; ok {
				for _, kv := range strings.Split(cs, ";") {
					k, v, _ := strings.Cut(kv, ":")
					cfg := kmsg.NewCreateTopicsRequestTopicConfig()
					cfg.Name, cfg.Value = k, &v
					t.Configs = append(t.Configs, cfg)
				}
			}
			r.Topics = append(r.Topics, t)
		}
		r.ValidateOnly = a.has("validate-only")
		req = r
	case "delete-topic":
		r := kmsg.NewPtrDeleteTopicsRequest()
		r.Version = 6
		for _, name := range strings.Split(a.str("name", ""), ",") {
			t := kmsg.NewDeleteTopicsRequestTopic()
			t.Topic = &name
			r.Topics = append(r.Topics, t)
		}
		req = r
	case "create-partitions":
		r := kmsg.NewPtrCreatePartitionsRequest()
		t := kmsg.NewCreatePartitionsRequestTopic()
		t.Topic, t.Count = a.str("name", ""), int32(a.num("count", 0))
		if as, ok := a["assign"]; ok {
			for _, reps := range strings.Split(as, ";") {
				ra := kmsg.NewCreatePartitionsRequestTopicAssignment()
				ra.Replicas = int32s(reps)
				t.Assignment = append(t.Assignment, ra)
			}
		}
		r.Topics = append(r.Topics, t)
		req = r
	case "alter-configs":
		r := kmsg.NewPtrIncrementalAlterConfigsRequest()
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		if a.has("topic") {
			res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, a["topic"]
		} else {
			res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBroker, a.str("broker", "")
		}
		for _, f := range fields[1:] {
			op, kv, _ := strings.Cut(f, "=")
			k, v, _ := strings.Cut(kv, ":")
			cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			cfg.Name, cfg.Value = k, &v
			switch op {
			case "set":
				cfg.Op = kmsg.IncrementalAlterConfigOpSet
			case "delete":
				cfg.Op, cfg.Value = kmsg.IncrementalAlterConfigOpDelete, nil
			case "append":
				cfg.Op = kmsg.IncrementalAlterConfigOpAppend
			case "subtract":
				cfg.Op = kmsg.IncrementalAlterConfigOpSubtract
			default:
				continue
			}
			res.Configs = append(res.Configs, cfg)
		}
		r.Resources = append(r.Resources, res)
		req = r
	case "replace-configs":
		r := kmsg.NewPtrAlterConfigsRequest()
		res := kmsg.NewAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, a["topic"]
		for _, kv := range strings.Split(a.str("configs", ""), ";") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, ":")
			cfg := kmsg.NewAlterConfigsRequestResourceConfig()
			cfg.Name, cfg.Value = k, &v
			res.Configs = append(res.Configs, cfg)
		}
		r.Resources = append(r.Resources, res)
		req = r
	case "alloc-pids":
		r := kmsg.NewPtrAllocateProducerIDsRequest()
		r.BrokerID = int32(a.num("id", 0))
		r.BrokerEpoch = h.epochOf(r.BrokerID, a)
		req = r
	case "alter-partition":
		r := kmsg.NewPtrAlterPartitionRequest()
		r.Version = 3
		r.BrokerID = int32(a.num("id", 0))
		r.BrokerEpoch = h.epochOf(r.BrokerID, a)
		t := kmsg.NewAlterPartitionRequestTopic()
		topic := img.Topic(a.str("topic", ""))
		if topic != nil {
			t.TopicID = topic.ID
		}
		p := kmsg.NewAlterPartitionRequestTopicPartition()
		p.Partition = int32(a.num("p", 0))
		var cur *metadata.Partition
		if topic != nil {
			cur = topic.Partition(p.Partition)
		}
		if cur != nil {
			p.LeaderEpoch, p.PartitionEpoch = cur.LeaderEpoch, cur.PartitionEpoch
		}
		p.LeaderEpoch = int32(a.num("leader-epoch", int64(p.LeaderEpoch)))
		p.PartitionEpoch = int32(a.num("partition-epoch", int64(p.PartitionEpoch)))
		p.LeaderRecoveryState = int8(a.num("recovery", 0))
		for _, b := range int32s(a.str("isr", "")) {
			e := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
			e.BrokerID, e.BrokerEpoch = b, -1
			p.NewEpochISR = append(p.NewEpochISR, e)
		}
		t.Partitions = append(t.Partitions, p)
		r.Topics = append(r.Topics, t)
		req = r
	case "elect":
		r := kmsg.NewPtrElectLeadersRequest()
		r.Version = 1
		if a.str("type", "preferred") == "unclean" {
			r.ElectionType = electionUnclean
		}
		if a.has("topic") {
			t := kmsg.NewElectLeadersRequestTopic()
			t.Topic, t.Partitions = a["topic"], int32s(a.str("p", "0"))
			r.Topics = append(r.Topics, t)
		}
		req = r
	case "reassign":
		r := kmsg.NewPtrAlterPartitionAssignmentsRequest()
		t := kmsg.NewAlterPartitionAssignmentsRequestTopic()
		t.Topic = a.str("topic", "")
		p := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		p.Partition = int32(a.num("p", 0))
		if !a.has("cancel") {
			p.Replicas = int32s(a.str("replicas", ""))
		}
		t.Partitions = append(t.Partitions, p)
		r.Topics = append(r.Topics, t)
		req = r
	case "list-reassignments":
		req = kmsg.NewPtrListPartitionReassignmentsRequest()
	default:
		return "unknown command " + fields[0]
	}
	res, err := h.c.Handle(h.now, req)
	return h.result(res, err, a.has("hold"))
}

func (h *harness) epochOf(id int32, a args) int64 {
	def := int64(-1)
	if b := h.c.Image().Broker(id); b != nil {
		def = b.Epoch
	}
	return a.num("epoch", def)
}

// result commits the batch (unless held) and renders records and reply.
func (h *harness) result(res Result, err error, hold bool) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var out []string
	for _, r := range res.Records {
		if t, ok := r.(*metadata.TopicRecord); ok {
			h.names[t.TopicID] = t.Name
		}
		out = append(out, h.name(r.String()))
	}
	if len(res.Records) > 0 {
		if hold {
			h.held = append(h.held, res.Records)
			out = append(out, "(held)")
		} else if err := h.commit(res.Records); err != nil {
			out = append(out, "commit: "+err.Error())
		}
	}
	if res.Reply != nil {
		out = append(out, h.name(render(res.Reply)))
	}
	if len(out) == 0 {
		return "ok"
	}
	return strings.Join(out, "\n")
}

func (h *harness) commit(recs []metadata.Record) error {
	h.offset++
	err := h.c.ApplyCommitted(h.offset, 1, recs)
	if err == nil {
		checkInvariants(h.t, h.c.Committed())
		checkInvariants(h.t, h.c.Image())
	}
	return err
}

func (h *harness) commitHeld() string {
	var out []string
	for _, recs := range h.held {
		if err := h.commit(recs); err != nil {
			out = append(out, err.Error())
		}
	}
	h.held = nil
	out = append(out, fmt.Sprintf("committed through offset %d", h.offset))
	return strings.Join(out, "\n")
}

func (h *harness) name(s string) string {
	for id, n := range h.names {
		s = strings.ReplaceAll(s, id.String(), n)
	}
	return s
}

// show renders the working image: brokers, then partitions like kafka-topics.sh --describe.
func (h *harness) show() string {
	img := h.c.Image()
	var out []string
	for _, b := range img.Brokers() {
		state := "unfenced"
		if b.Fenced {
			state = "fenced"
		}
		if b.InControlledShutdown {
			state += ",shutting-down"
		}
		out = append(out, fmt.Sprintf("broker %d epoch=%d %s", b.ID, b.Epoch, state))
	}
	for _, t := range img.Topics() {
		for _, p := range t.Partitions() {
			s := fmt.Sprintf("%s-%d leader=%d epoch=%d partition-epoch=%d replicas=%v isr=%v", t.Name, p.ID, p.Leader,
				p.LeaderEpoch, p.PartitionEpoch, p.Replicas, p.Isr)
			if p.Reassigning() {
				s += fmt.Sprintf(" adding=%v removing=%v", p.AddingReplicas, p.RemovingReplicas)
			}
			if p.LeaderRecoveryState == metadata.LeaderRecoveryRecovering {
				s += " recovering"
			}
			out = append(out, s)
		}
	}
	for _, r := range img.ConfigResources() {
		keys := make([]string, 0)
		for k := range img.Configs(r) {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			out = append(out, fmt.Sprintf("config type=%d %q %s=%s", r.Type, r.Name, k, img.Configs(r)[k]))
		}
	}
	if img.NextProducerID() > 0 {
		out = append(out, fmt.Sprintf("next producer ID %d", img.NextProducerID()))
	}
	if len(out) == 0 {
		return "empty"
	}
	return strings.Join(out, "\n")
}

// render prints a kmsg response compactly: non-zero fields, error codes by name, nested lists in braces.
func render(v any) string {
	rv := reflect.ValueOf(v)
	return strings.TrimPrefix(reflect.Indirect(rv).Type().Name(), "") + renderValue(reflect.Indirect(rv), "")
}

func renderValue(v reflect.Value, field string) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "nil"
		}
		return renderValue(v.Elem(), field)
	case reflect.Struct:
		var parts []string
		for i := range v.NumField() {
			f := v.Type().Field(i)
			switch f.Name {
			case "Version", "UnknownTags", "ThrottleMillis":
				continue
			}
			fv := v.Field(i)
			if fv.IsZero() && f.Name != "ErrorCode" {
				continue
			}
			if f.Name == "ErrorCode" && fv.Int() == 0 {
				continue
			}
			parts = append(parts, f.Name+"="+renderValue(fv, f.Name))
		}
		return "{" + strings.Join(parts, " ") + "}"
	case reflect.Slice:
		var parts []string
		for i := range v.Len() {
			parts = append(parts, renderValue(v.Index(i), ""))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case reflect.Array:
		if v.Type() == reflect.TypeFor[[16]byte]() {
			return metadata.Uuid(v.Interface().([16]byte)).String()
		}
	case reflect.Int16:
		if field == "ErrorCode" {
			if err := kerr.ErrorForCode(int16(v.Int())); err != nil {
				return err.(*kerr.Error).Message
			}
		}
	case reflect.String:
		return strconv.Quote(v.String())
	}
	return fmt.Sprint(v.Interface())
}
