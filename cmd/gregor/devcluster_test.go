//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testutil"
)

var (
	bannerBootstrap = regexp.MustCompile(`(?m)^  bootstrap  (\S+)$`)
	bannerNode      = regexp.MustCompile(`(?m)^  node (\d)     pid (\d+)\s+broker (\S+)  controller (\S+)  log`)
)

// createTopicOnController creates a topic with a CreateTopics sent to whichever controller is active.
// NB: brokers do not forward CreateTopics yet (cluster-admin's branch); the controllers decide it.
func createTopicOnController(t *testing.T, controllers []string, topic string, partitions int32, rf int16) {
	t.Helper()
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		for _, addr := range controllers {
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
			if err != nil {
				return err
			}
			req := kmsg.NewPtrCreateTopicsRequest()
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, rf
			req.Topics, req.TimeoutMillis = append(req.Topics, rt), 10000
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := cl.SeedBrokers()[0].Request(ctx, req)
			cancel()
			cl.Close()
			if err != nil {
				continue
			}
			switch code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code {
			case 0, kerr.TopicAlreadyExists.Code:
				return nil
			case kerr.NotController.Code:
				continue
			default:
				return kerr.ErrorForCode(code)
			}
		}
		return fmt.Errorf("no controller of %v created %s", controllers, topic)
	})
}

// `gregor dev --brokers 3` starts three KRaft nodes as subprocesses with data under --data and prints
// the bootstrap list. Against it: topics describe prints Leader/Replicas/Isr per partition like
// kafka-topics.sh; cluster status shows three unfenced brokers and the three voters; topics reassign
// (a JSON plan that drops a replica, then --verify) moves replicas; reordering a partition's replicas
// and a preferred election move its leader; after kill -9 of a node, dev reports it, cluster status
// shows it fenced and partitions under-replicated, and records produced before stay readable; with
// node 2 killed too, cluster status reports the quorum without a majority. Ctrl-C stops every node.
func TestDevClusterOfThreeNodesAndTheClusterCommands(t *testing.T) {
	t.Setenv("GREGOR_TEST_MAIN", "1") // the nodes are this test binary running main (TestMain)
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, []string{"dev", "--brokers", "3", "--listen", "127.0.0.1:0", "--data", data}, strings.NewReader(""), &out, &out)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gregor dev --brokers 3: %v", err)
			}
		case <-time.After(45 * time.Second):
			t.Errorf("gregor dev --brokers 3 did not stop after Ctrl-C:\n%s", out.String())
		}
	}
	t.Cleanup(stop)
	testutil.CheckFor(t, 90*time.Second, 100*time.Millisecond, func() error {
		select {
		case err := <-done:
			t.Fatalf("gregor dev --brokers 3 returned %v:\n%s", err, out.String())
		default:
		}
		if !bannerBootstrap.MatchString(out.String()) {
			return fmt.Errorf("no banner yet:\n%s", out.String())
		}
		return nil
	})
	banner := out.String()
	bs := bannerBootstrap.FindStringSubmatch(banner)[1]
	nodes := bannerNode.FindAllStringSubmatch(banner, -1)
	if len(strings.Split(bs, ",")) != 3 || len(nodes) != 3 {
		t.Fatalf("banner:\n%s", banner)
	}
	var controllers []string
	pids := map[int32]int{}
	for _, n := range nodes {
		id, _ := strconv.Atoi(n[1])
		pid, _ := strconv.Atoi(n[2])
		pids[int32(id)] = pid
		controllers = append(controllers, n[4])
		if _, err := os.Stat(filepath.Join(data, "node"+n[1], "meta.properties")); err != nil {
			t.Errorf("node %s is not formatted under --data: %v", n[1], err)
		}
	}

	createTopicOnController(t, controllers, "orders", 3, 3)
	partitionLine := regexp.MustCompile(`(?m)^\tTopic: orders\tPartition: (\d)\tLeader: (\d)\tReplicas: ([\d,]+)\tIsr: ([\d,]+)$`)
	var replicas0 []string
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		r := gregor(t, "", "topics", "describe", "--topic", "orders", "-b", bs)
		lines := partitionLine.FindAllStringSubmatch(r.stdout, -1)
		if r.err != nil || len(lines) != 3 {
			return fmt.Errorf("describe: %v %s", r.err, r.stdout)
		}
		for _, l := range lines {
			if len(strings.Split(l[3], ",")) != 3 || len(strings.Split(l[4], ",")) != 3 {
				return fmt.Errorf("partition %s: replicas %s, ISR %s", l[1], l[3], l[4])
			}
		}
		replicas0 = strings.Split(lines[0][3], ",")
		return nil
	})
	mustGregor(t, "one\ntwo\nthree\n", "produce", "--topic", "orders", "-b", bs)

	r := mustGregor(t, "", "cluster", "status", "-b", bs)
	for _, want := range []string{"Brokers: 3\n", "voters: 1,2,3; observers: none", "; 0 under-replicated, 0 offline\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("cluster status lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := strings.Count(r.stdout, "unfenced"); n != 3 {
		t.Errorf("cluster status shows %d unfenced brokers:\n%s", n, r.stdout)
	}

	// A JSON plan in kafka-reassign-partitions.sh's format: partition 1 down to two replicas.
	plan := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(plan, []byte(`{"version":1,"partitions":[{"topic":"orders","partition":1,"replicas":[1,2]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r = mustGregor(t, "", "topics", "reassign", "--reassignment-json-file", plan, "--execute", "-b", bs)
	if !strings.Contains(r.stdout, "Successfully started partition reassignments for orders-1") {
		t.Errorf("reassign --execute:\n%s", r.stdout)
	}
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		r := gregor(t, "", "topics", "reassign", "--reassignment-json-file", plan, "--verify", "-b", bs)
		if r.err != nil || !strings.Contains(r.stdout, "Reassignment of partition orders-1 is completed.") {
			return fmt.Errorf("verify: %v %s", r.err, r.stdout)
		}
		return nil
	})

	// Reorder partition 0's replicas, then a preferred election moves its leader to the new first.
	reordered := []string{replicas0[1], replicas0[0], replicas0[2]}
	mustGregor(t, "", "topics", "reassign", "--topic", "orders", "--partition", "0", "--replicas", strings.Join(reordered, ","), "-b", bs)
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		r := gregor(t, "", "topics", "elect-leaders", "--topic", "orders", "--partition", "0", "-b", bs)
		if r.err != nil {
			return fmt.Errorf("elect-leaders: %v %s", r.err, r.stderr)
		}
		r = gregor(t, "", "topics", "describe", "--topic", "orders", "-b", bs)
		for _, l := range partitionLine.FindAllStringSubmatch(r.stdout, -1) {
			switch {
			case l[1] == "0" && (l[2] != reordered[0] || l[3] != strings.Join(reordered, ",")):
				return fmt.Errorf("partition 0: leader %s, replicas %s; want %v led by %s", l[2], l[3], reordered, reordered[0])
			case l[1] == "1" && l[3] != "1,2":
				return fmt.Errorf("partition 1: replicas %s, want 1,2", l[3])
			}
		}
		return nil
	})

	// kill -9 node 3: dev reports it; cluster status shows it fenced and its partitions under-replicated.
	if err := syscall.Kill(pids[3], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		if !strings.Contains(out.String(), fmt.Sprintf("node 3 (pid %d) exited: signal: killed", pids[3])) {
			return fmt.Errorf("dev did not report node 3's exit:\n%s", out.String())
		}
		r := gregor(t, "", "cluster", "status", "-b", bs)
		if r.err != nil || !regexp.MustCompile(`(?m)^  3\s+fenced`).MatchString(r.stdout) || strings.Contains(r.stdout, " 0 under-replicated") {
			return fmt.Errorf("cluster status: %v\n%s", r.err, r.stdout)
		}
		return nil
	})
	r = mustGregor(t, "", "topics", "describe", "--under-replicated-partitions", "-b", bs)
	if n := len(regexp.MustCompile(`(?m)^\tTopic: orders\tPartition: \d\t.*\tOffline: 3$`).FindAllString(r.stdout, -1)); n == 0 || n != strings.Count(r.stdout, "\n") {
		t.Errorf("describe --under-replicated-partitions after kill -9 of node 3:\n%s", r.stdout)
	}
	r = mustGregor(t, "", "consume", "--topic", "orders", "--from-beginning", "--max-messages", "3", "-b", bs)
	for _, v := range []string{"one", "two", "three"} {
		if !strings.Contains(r.stdout, v+"\n") {
			t.Errorf("after kill -9 of node 3, consume lacks %q:\n%s", v, r.stdout)
		}
	}

	// kill -9 node 2 as well: the quorum has lost its majority; cluster status says so and still
	// lists the brokers and partitions.
	if err := syscall.Kill(pids[2], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	node1 := strings.Split(bs, ",")[0]
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		r := gregor(t, "", "cluster", "status", "-b", node1, "--timeout", "3s")
		if r.err != nil || !strings.Contains(r.stdout, "Metadata quorum: no answer") || !strings.Contains(r.stdout, "Brokers: 3") {
			return fmt.Errorf("cluster status with 2 of 3 nodes down: %v\n%s", r.err, r.stdout)
		}
		return nil
	})
	stop()
}
