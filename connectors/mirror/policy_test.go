package mirror

import "testing"

func TestReplicationPoliciesNameRemoteTopicsAndDetectCycles(t *testing.T) {
	def := DefaultReplicationPolicy{}
	for _, c := range []struct {
		policy         ReplicationPolicy
		target, topic  string
		remote, source string
		cycle          bool
	}{
		{def, "B", "orders", "A.orders", "", false},
		{def, "B", "B.orders", "A.B.orders", "B", true},     // came from B: never back to B
		{def, "B", "C.B.orders", "A.C.B.orders", "C", true}, // came from B through C
		{def, "B", "C.orders", "A.C.orders", "C", false},
		{IdentityReplicationPolicy{}, "B", "orders", "orders", "", false},
		{IdentityReplicationPolicy{}, "B", "B.heartbeats", "A.B.heartbeats", "B", true},
	} {
		if got := c.policy.FormatRemoteTopic("A", c.topic); got != c.remote {
			t.Errorf("%T FormatRemoteTopic(A, %s) = %s, want %s", c.policy, c.topic, got, c.remote)
		}
		if got := c.policy.TopicSource(c.topic); got != c.source {
			t.Errorf("%T TopicSource(%s) = %q, want %q", c.policy, c.topic, got, c.source)
		}
		if got := isCycle(c.policy, c.target, c.topic); got != c.cycle {
			t.Errorf("%T isCycle(%s, %s) = %v, want %v", c.policy, c.target, c.topic, got, c.cycle)
		}
	}
}

func TestTranslateNeverSkipsARecord(t *testing.T) {
	s := syncStore{}
	for _, sync := range []OffsetSync{{"t", 0, 0, 10}, {"t", 0, 100, 110}, {"t", 0, 200, 215}} {
		s.add(sync)
	}
	for _, c := range []struct {
		upstream, want int64
		ok             bool
	}{{0, 10, true}, {50, 11, true}, {100, 110, true}, {150, 111, true}, {200, 215, true}, {999, 216, true}} {
		got, ok := s.translate("t", 0, c.upstream)
		if got != c.want || ok != c.ok {
			t.Errorf("translate(%d) = %d %v, want %d %v", c.upstream, got, ok, c.want, c.ok)
		}
	}
	if _, ok := s.translate("t", 1, 5); ok {
		t.Error("translated an offset of a partition without syncs")
	}
	// A task that rewound after a crash writes an older sync: newer ones it contradicts go.
	s.add(OffsetSync{"t", 0, 100, 300})
	if got, _ := s.translate("t", 0, 250); got != 301 {
		t.Errorf("after a rewind, translate(250) = %d, want 301", got)
	}
}

func TestInternalRecordsRoundTripInKafkasLayout(t *testing.T) {
	sync := OffsetSync{Topic: "orders", Partition: 3, UpstreamOffset: 7, DownstreamOffset: 9}
	if got, err := DecodeOffsetSync(sync.Key(), sync.Value()); err != nil || got != sync {
		t.Fatalf("offset sync round trip: %+v %v", got, err)
	}
	// Kafka's Struct layout: INT16 length + bytes, then big-endian INT32.
	if want := "\x00\x06orders\x00\x00\x00\x03"; string(sync.Key()) != want {
		t.Fatalf("offset sync key %q, want %q", sync.Key(), want)
	}
	cp := Checkpoint{Group: "g", Topic: "A.orders", Partition: 1, UpstreamOffset: 5, DownstreamOffset: 6, Metadata: "m"}
	if got, err := DecodeCheckpoint(cp.Key(), cp.Value()); err != nil || got != cp {
		t.Fatalf("checkpoint round trip: %+v %v", got, err)
	}
	hb := Heartbeat{SourceClusterAlias: "A", TargetClusterAlias: "B", TimestampMs: 1234}
	if got, err := DecodeHeartbeat(hb.Key(), hb.Value()); err != nil || got != hb {
		t.Fatalf("heartbeat round trip: %+v %v", got, err)
	}
	if _, err := DecodeCheckpoint(cp.Key(), cp.Value()[:5]); err == nil {
		t.Fatal("decoded a truncated checkpoint")
	}
}

func FuzzDecodeInternalRecords(f *testing.F) {
	cp := Checkpoint{Group: "g", Topic: "t", Partition: 1, UpstreamOffset: 2, DownstreamOffset: 3, Metadata: "m"}
	f.Add(cp.Key(), cp.Value())
	f.Add([]byte{0xff, 0xff}, []byte{0, 0})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		// Never panics; whatever decodes re-encodes to the bytes it came from.
		if s, err := DecodeOffsetSync(key, value); err == nil && len(key) == len(s.Key()) && len(value) == len(s.Value()) && string(s.Key()) != string(key) {
			t.Fatalf("offset sync %+v does not re-encode to its key", s)
		}
		_, _ = DecodeCheckpoint(key, value)
		_, _ = DecodeHeartbeat(key, value)
	})
}

func TestParseMM2FlowsTakeTopLevelAndFlowKeys(t *testing.T) {
	flows, err := ParseMM2(map[string]string{
		"clusters": "A, B", "A.bootstrap.servers": "a:9092", "B.bootstrap.servers": "b:9092",
		"A->B.enabled": "true", "B->A.enabled": "false", "topics": "x.*", "A->B.topics": "orders",
		"offset.storage.replication.factor": "1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 1 || flows[0].Source != "A" || flows[0].Target != "B" {
		t.Fatalf("flows %+v, want only A->B", flows)
	}
	src := flows[0].Connectors["MirrorSourceConnector"]
	if src["topics"] != "orders" || src["source.cluster.bootstrap.servers"] != "a:9092" || src["offset.storage.replication.factor"] != "" {
		t.Fatalf("source config %v", src)
	}
	if flows[0].Worker["offset.storage.replication.factor"] != "1" || flows[0].Worker["group.id"] != "A-mm2" {
		t.Fatalf("worker %v", flows[0].Worker)
	}
	if _, err := ParseMM2(map[string]string{"clusters": "A", "A.bootstrap.servers": "a", "A->C.enabled": "true"}); err == nil {
		t.Fatal("accepted a flow to an unlisted cluster")
	}
}
