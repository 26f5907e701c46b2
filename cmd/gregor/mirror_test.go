package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connectors/mirror"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestDeployMM2PropertiesParsesIntoBothFlows(t *testing.T) {
	props, err := readPropertiesFile("../../deploy/mm2.properties")
	if err != nil {
		t.Fatal(err)
	}
	flows, err := mirror.ParseMM2(props)
	if err != nil {
		t.Fatalf("deploy/mm2.properties: %v", err)
	}
	if len(flows) != 2 || flows[0].Source != "us-east" || flows[1].Source != "us-west" {
		t.Fatalf("flows %+v, want us-east->us-west and us-west->us-east", flows)
	}
	src := flows[1].Connectors["MirrorSourceConnector"]
	if src["topics"] != "orders, payments.*" || src["target.cluster.bootstrap.servers"] != "127.0.0.1:9192" ||
		src["sync.group.offsets.enabled"] != "true" || src["connector.class"] != mirror.SourceClass {
		t.Fatalf("us-west->us-east source connector config: %v", src)
	}
	if w := flows[1].Worker; w["bootstrap.servers"] != "127.0.0.1:9192" || w["offset.storage.topic"] != "mm2-offsets.us-west.internal" {
		t.Fatalf("us-west->us-east worker: %v", w)
	}
	if len(flows[0].Connectors) != 3 {
		t.Fatalf("want three connectors per flow, got %v", flows[0].Connectors)
	}
}

func TestMirrorCommandMirrorsAnEnabledFlow(t *testing.T) {
	a, b := startTestCluster(t), startTestCluster(t)
	file := filepath.Join(t.TempDir(), "mm2.properties")
	if err := os.WriteFile(file, fmt.Appendf(nil, "clusters = A, B\nA.bootstrap.servers = %s\nB.bootstrap.servers = %s\nA->B.enabled = true\nA->B.topics = logs\nrefresh.topics.interval.seconds = 0.5\n", a, b), 0o644); err != nil {
		t.Fatal(err)
	}
	pa, err := kgo.NewClient(kgo.SeedBrokers(a), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer pa.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pa.ProduceSync(ctx, &kgo.Record{Topic: "logs", Key: []byte("k"), Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out, errOut bytes.Buffer
	go func() { done <- runMirror(runCtx, []string{file}, nil, &out, &errOut) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("gregor mirror: %v", err)
		}
	})

	cb, err := kgo.NewClient(kgo.SeedBrokers(b), kgo.ConsumeTopics("A.logs"), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.MetadataMaxAge(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	var got []*kgo.Record
	testutil.CheckFor(t, 60*time.Second, 10*time.Millisecond, func() error {
		pctx, pcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer pcancel()
		got = append(got, cb.PollFetches(pctx).Records()...)
		if len(got) == 0 {
			return fmt.Errorf("nothing mirrored to A.logs on B yet")
		}
		return nil
	})
	if string(got[0].Key) != "k" || string(got[0].Value) != "hello" {
		t.Fatalf("mirrored record %q=%q, want k=hello", got[0].Key, got[0].Value)
	}

	// The flow's heartbeats reach B, and `gregor mirror status` shows them.
	testutil.CheckFor(t, 60*time.Second, 50*time.Millisecond, func() error {
		var status, statusErr bytes.Buffer
		if err := runMirror(context.Background(), []string{"status", "--bootstrap-server", b}, nil, &status, &statusErr); err != nil {
			return err
		}
		if !strings.Contains(status.String(), "heartbeats") || !strings.Contains(status.String(), "A->B") {
			return fmt.Errorf("mirror status: %q", status.String())
		}
		return nil
	})
}
