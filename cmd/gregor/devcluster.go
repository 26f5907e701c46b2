package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/config"
)

// `gregor dev --brokers N`: a local KRaft cluster of N combined (broker,controller) nodes.
//
// NB: each node is its own `gregor server` subprocess, not a goroutine of this one: a user trying
// failover on a laptop kills one with kill -9 (or pauses it with kill -STOP) and restarts it with the
// printed command, as with a real cluster, and each node's server.properties under --data is a
// working example of a cluster node's config. This process only writes the configs, formats the
// dirs, starts the nodes, reports a node that exits, and stops them all on Ctrl-C.

// devClusterReadyTimeout bounds the wait for every node to register and be unfenced.
const devClusterReadyTimeout = 60 * time.Second

// devStopTimeout bounds each node's controlled shutdown on Ctrl-C before it is killed.
const devStopTimeout = 30 * time.Second

// devNode is one node of the dev cluster.
type devNode struct {
	id             int32
	dir            string // log.dirs
	propsPath      string // its server.properties
	logPath        string // its stdout and stderr
	brokerAddr     string
	controllerAddr string
	cmd            *exec.Cmd
	exited         chan error // receives Wait's result once
}

// devClusterPlan lays out n nodes on host: brokers on port..port+n-1 and controllers on
// port+n..port+2n-1, or on free ports when port is 0.
func devClusterPlan(n int, listen, dataDir string) ([]*devNode, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, usageErrorf("--listen %q: %v", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port+2*n-1 > 65535 {
		return nil, usageErrorf("--listen %q: the port must leave room for %d ports", listen, 2*n)
	}
	ports := make([]int, 2*n)
	for i := range ports {
		ports[i] = port + i
	}
	if port == 0 {
		if ports, err = freeTCPPorts(host, 2*n); err != nil {
			return nil, err
		}
	}
	var nodes []*devNode
	for i := range n {
		id := int32(i + 1)
		nodes = append(nodes, &devNode{
			id:             id,
			dir:            filepath.Join(dataDir, fmt.Sprintf("node%d", id)),
			propsPath:      filepath.Join(dataDir, fmt.Sprintf("node%d.properties", id)),
			logPath:        filepath.Join(dataDir, fmt.Sprintf("node%d.log", id)),
			brokerAddr:     net.JoinHostPort(host, strconv.Itoa(ports[i])),
			controllerAddr: net.JoinHostPort(host, strconv.Itoa(ports[n+i])),
		})
	}
	return nodes, nil
}

// freeTCPPorts reserves n distinct free ports on host and releases them for the nodes to bind.
func freeTCPPorts(host string, n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("finding a free port on %s: %w", host, err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// devNodeProperties is node's server.properties: combined roles, every node a voter, RF=3 with
// min.insync.replicas=2 (acks=all survives one node down), fast heartbeats so a killed node is
// fenced within 3 s; sets (--set) come last and win.
func devNodeProperties(node *devNode, nodes []*devNode, sets []string) string {
	var voters []string
	for _, n := range nodes {
		voters = append(voters, fmt.Sprintf("%d@%s", n.id, n.controllerAddr))
	}
	rf := min(3, len(nodes))
	lines := []string{
		"# Written by `gregor dev --brokers " + strconv.Itoa(len(nodes)) + "` at each start; edit the flags, not this file.",
		"process.roles=broker,controller",
		fmt.Sprintf("node.id=%d", node.id),
		"controller.quorum.voters=" + strings.Join(voters, ","),
		fmt.Sprintf("listeners=PLAINTEXT://%s,CONTROLLER://%s", node.brokerAddr, node.controllerAddr),
		"controller.listener.names=CONTROLLER",
		"inter.broker.listener.name=PLAINTEXT",
		"log.dirs=" + node.dir,
		"num.partitions=3",
		fmt.Sprintf("default.replication.factor=%d", rf),
		fmt.Sprintf("offsets.topic.replication.factor=%d", rf),
		fmt.Sprintf("min.insync.replicas=%d", max(1, rf-1)),
		"group.initial.rebalance.delay.ms=0",
		"broker.heartbeat.interval.ms=500",
		"broker.session.timeout.ms=3000",
	}
	return strings.Join(append(lines, sets...), "\n") + "\n"
}

// prepareDevNodes writes every node's server.properties and formats its dir (meta.properties) with
// one cluster ID: the one already on disk, or a new one.
func prepareDevNodes(nodes []*devNode, sets []string) (clusterID string, err error) {
	for _, n := range nodes {
		if m, err := config.ReadMetaProperties(n.dir); err == nil {
			if clusterID != "" && m.ClusterID != clusterID {
				return "", fmt.Errorf("%s belongs to cluster %s, %s to %s: remove the --data directory to start afresh", n.dir, m.ClusterID, nodes[0].dir, clusterID)
			}
			clusterID = m.ClusterID
		}
	}
	if clusterID == "" {
		clusterID = config.RandomClusterID()
	}
	for _, n := range nodes {
		if err := os.MkdirAll(filepath.Dir(n.propsPath), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(n.propsPath, []byte(devNodeProperties(n, nodes, sets)), 0o644); err != nil {
			return "", err
		}
		// NB: the config is checked here, so a bad --set fails before any node starts.
		if _, _, err := config.Load(n.propsPath, nil); err != nil {
			return "", fmt.Errorf("node %d: %w", n.id, err)
		}
		if _, err := config.ReadMetaProperties(n.dir); err != nil {
			if err := formatDir(n.dir, config.MetaProperties{ClusterID: clusterID, NodeID: n.id}); err != nil {
				return "", fmt.Errorf("formatting %s: %w", n.dir, err)
			}
		}
	}
	return clusterID, nil
}

// start runs the node as `gregor server --config <props>`, its output appended to its log.
func (n *devNode) start(exe string) error {
	logFile, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	n.cmd = exec.Command(exe, "server", "--config", n.propsPath)
	n.cmd.Stdout, n.cmd.Stderr = logFile, logFile
	if err := n.cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting node %d: %w", n.id, err)
	}
	n.exited = make(chan error, 1)
	go func() {
		err := n.cmd.Wait()
		logFile.Close()
		n.exited <- err
	}()
	return nil
}

// runDevCluster runs `gregor dev --brokers n` until ctx is done.
func runDevCluster(ctx context.Context, n int, listen, dataDir string, sets []string, stdout io.Writer) error {
	if n < 1 || n > 9 {
		return usageErrorf("--brokers must be between 1 and 9, not %d", n)
	}
	nodes, err := devClusterPlan(n, listen, dataDir)
	if err != nil {
		return err
	}
	clusterID, err := prepareDevNodes(nodes, sets)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the gregor binary to run the nodes: %w", err)
	}
	var running []*devNode
	defer func() { stopDevNodes(running) }()
	for _, node := range nodes {
		if err := node.start(exe); err != nil {
			return err
		}
		running = append(running, node)
	}
	var seeds []string
	for _, node := range nodes {
		seeds = append(seeds, node.brokerAddr)
	}
	bootstrap := strings.Join(seeds, ",")
	if err := waitDevClusterReady(ctx, nodes, seeds); err != nil {
		return err
	}
	fmt.Fprint(stdout, devClusterBanner(nodes, bootstrap, clusterID, dataDir))
	for {
		select {
		case <-ctx.Done():
			return nil
		default:
		}
		// NB: a node that exits is reported and left down: the user is trying failover.
		for _, node := range nodes {
			select {
			case err := <-node.exited:
				running = removeNode(running, node)
				fmt.Fprintf(stdout, "node %d (pid %d) exited: %v\n  restart it with: gregor server --config %s\n", node.id, node.cmd.Process.Pid, exitReason(err), node.propsPath)
			default:
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func removeNode(nodes []*devNode, gone *devNode) []*devNode {
	var out []*devNode
	for _, n := range nodes {
		if n != gone {
			out = append(out, n)
		}
	}
	return out
}

func exitReason(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// waitDevClusterReady waits until Metadata lists every node as an alive broker (registered and
// unfenced), failing early with a node's log if it exits.
func waitDevClusterReady(ctx context.Context, nodes []*devNode, seeds []string) error {
	ctx, cancel := context.WithTimeout(ctx, devClusterReadyTimeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RetryTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	var last error
	for {
		for _, node := range nodes {
			select {
			case err := <-node.exited:
				node.exited <- err // keep it for the caller
				return fmt.Errorf("node %d exited while starting (%v); its log %s ends with:\n%s", node.id, exitReason(err), node.logPath, logTail(node.logPath, 15))
			default:
			}
		}
		req := kmsg.NewPtrMetadataRequest()
		reqCtx, reqCancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := req.RequestWith(reqCtx, cl)
		reqCancel()
		switch {
		case err != nil:
			last = err
		case len(resp.Brokers) < len(nodes):
			last = fmt.Errorf("%d of %d brokers registered and unfenced", len(resp.Brokers), len(nodes))
		default:
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the cluster was not ready within %v: %v (node logs: %s)", devClusterReadyTimeout, last, filepath.Dir(nodes[0].logPath))
			}
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// logTail returns the last n lines of the file at path.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// stopDevNodes asks every running node to stop at once (SIGTERM: a controlled shutdown; together, so
// each still finds a quorum), and kills those still running after devStopTimeout.
func stopDevNodes(nodes []*devNode) {
	for _, n := range nodes {
		if err := n.cmd.Process.Signal(shutdownSignals[len(shutdownSignals)-1]); err != nil {
			n.cmd.Process.Kill()
		}
	}
	deadline := time.After(devStopTimeout)
	for _, n := range nodes {
		select {
		case <-n.exited:
		case <-deadline:
			n.cmd.Process.Kill()
			<-n.exited
		}
	}
}

// devClusterBanner tells where the cluster listens and what to try.
func devClusterBanner(nodes []*devNode, bootstrap, clusterID, dataDir string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Gregor dev cluster is running: %d KRaft nodes (broker+controller), cluster ID %s, data in %s.\n", len(nodes), clusterID, dataDir)
	fmt.Fprintf(&sb, "  bootstrap  %s\n", bootstrap)
	for _, n := range nodes {
		fmt.Fprintf(&sb, "  node %d     pid %-7d broker %s  controller %s  log %s\n", n.id, n.cmd.Process.Pid, n.brokerAddr, n.controllerAddr, n.logPath)
	}
	last := nodes[len(nodes)-1]
	fmt.Fprintf(&sb, "\nTry it from another terminal:\n")
	fmt.Fprintf(&sb, "  ./gregor cluster status -b %s\n", bootstrap)
	fmt.Fprintf(&sb, "  ./gregor topics describe -b %s\n", bootstrap)
	fmt.Fprintf(&sb, "  kill -9 %d    # then cluster status again: node %d is fenced, its partitions get new leaders\n", last.cmd.Process.Pid, last.id)
	fmt.Fprintf(&sb, "  ./gregor server --config %s    # bring node %d back\n", last.propsPath, last.id)
	sb.WriteString("\nThe Connect worker and the Schema Registry of the single-node `gregor dev` are not started here.\n")
	sb.WriteString("Press Ctrl-C to stop every node.\n")
	return sb.String()
}
