package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const clusterUsage = `Usage: gregor cluster <subcommand> [flags]

Subcommands:
  status    brokers (fenced or not), the metadata quorum (leader, voters, observers, lag),
            under-replicated and offline partitions

All take --bootstrap-server (-b). Run 'gregor cluster <subcommand> -h' for details.
`

// runCluster is `gregor cluster <subcommand>`: what kafka-metadata-quorum.sh, kafka-cluster.sh and
// kafka-topics.sh --under-replicated-partitions tell, in one place.
func runCluster(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "cluster", clusterUsage, map[string]subcommand{
		"status": runClusterStatus,
	}, args, stdout, stderr)
}

// clusterStatus is what `gregor cluster status` gathers before printing.
type clusterStatus struct {
	clusterID string
	brokers   []kmsg.DescribeClusterResponseBroker // sorted by node ID
	quorum    *kmsg.DescribeQuorumResponseTopicPartition
	quorumErr error
	topics    kadm.TopicDetails
}

func runClusterStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cluster status", "gregor cluster status")
	fs.about = "Shows the brokers (fenced or not, endpoint, rack), the metadata quorum's leader, voters and\n" +
		"observers with their lag, and the partitions that are under-replicated or offline."
	bootstrap := addBootstrapFlag(fs)
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	cl, err := newClient(ctx, bootstrap)
	if err != nil {
		return err
	}
	defer cl.Close()
	st, err := gatherClusterStatus(ctx, cl, bootstrap.timeout)
	if err != nil {
		return err
	}
	printClusterStatus(stdout, st, time.Now())
	return nil
}

// gatherClusterStatus asks the cluster: DescribeCluster (v2 lists fenced brokers too), DescribeQuorum
// (a broker forwards it to the quorum leader), and Metadata of every topic. A cluster without a
// metadata quorum (an older Kafka), or one that lost its majority, is reported, not an error. Each
// request has its own timeout, so a quorum that does not answer still leaves brokers and partitions.
func gatherClusterStatus(ctx context.Context, cl *kgo.Client, timeout time.Duration) (*clusterStatus, error) {
	st := &clusterStatus{}
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.IncludeFencedBrokers = true
	dcCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dcResp, err := dc.RequestWith(dcCtx, cl)
	if err != nil {
		return nil, fmt.Errorf("describing the cluster: %w", err)
	}
	if err := kerr.ErrorForCode(dcResp.ErrorCode); err != nil {
		return nil, fmt.Errorf("describing the cluster: %w", err)
	}
	st.clusterID, st.brokers = dcResp.ClusterID, dcResp.Brokers
	slices.SortFunc(st.brokers, func(x, y kmsg.DescribeClusterResponseBroker) int { return int(x.NodeID - y.NodeID) })

	dq := kmsg.NewPtrDescribeQuorumRequest()
	qt := kmsg.NewDescribeQuorumRequestTopic()
	qt.Topic = "__cluster_metadata"
	qt.Partitions = append(qt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	dq.Topics = append(dq.Topics, qt)
	dqCtx, dqCancel := context.WithTimeout(ctx, timeout)
	defer dqCancel()
	switch dqResp, err := dq.RequestWith(dqCtx, cl); {
	case err != nil:
		st.quorumErr = err
	case dqResp.ErrorCode != 0:
		st.quorumErr = kerr.ErrorForCode(dqResp.ErrorCode)
	case len(dqResp.Topics) != 1 || len(dqResp.Topics[0].Partitions) != 1:
		st.quorumErr = fmt.Errorf("the answer describes no metadata partition")
	default:
		p := dqResp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			st.quorumErr = kerr.ErrorForCode(p.ErrorCode)
		} else {
			st.quorum = &p
		}
	}

	adm := kadm.NewClient(cl)
	mdCtx, mdCancel := context.WithTimeout(ctx, timeout)
	defer mdCancel()
	if st.topics, err = adm.ListTopicsWithInternal(mdCtx); err != nil {
		return nil, fmt.Errorf("listing topics: %w", err)
	}
	return st, nil
}

// printClusterStatus renders st; now dates the quorum's fetch timestamps.
func printClusterStatus(w io.Writer, st *clusterStatus, now time.Time) {
	// NB: DescribeCluster's ControllerID is, in KRaft as in Kafka, a broker for clients to send admin
	// requests to, not the active controller; the quorum leader below is that.
	fmt.Fprintf(w, "Cluster ID: %s\n\n", st.clusterID)
	fmt.Fprintf(w, "Brokers: %d\n", len(st.brokers))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tSTATUS\tENDPOINT\tRACK")
	for _, b := range st.brokers {
		status, rack := "unfenced", "-"
		if b.IsFenced {
			status = "fenced"
		}
		if b.Rack != nil && *b.Rack != "" {
			rack = *b.Rack
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s:%d\t%s\n", b.NodeID, status, b.Host, b.Port, rack)
	}
	tw.Flush()

	fmt.Fprintln(w)
	if st.quorum == nil {
		fmt.Fprintf(w, "Metadata quorum: no answer (%v): the quorum may have lost its majority; nothing in the metadata can change until it has one\n", st.quorumErr)
	} else {
		printQuorum(w, st.quorum, now)
	}

	fmt.Fprintln(w)
	printPartitionHealth(w, st.topics)
}

// printQuorum prints the quorum leader and every voter and observer with its lag behind the leader's
// log end offset, as kafka-metadata-quorum.sh describe --status / --replication do.
func printQuorum(w io.Writer, q *kmsg.DescribeQuorumResponseTopicPartition, now time.Time) {
	leaderEnd := q.HighWatermark
	for _, v := range q.CurrentVoters {
		if v.ReplicaID == q.LeaderID {
			leaderEnd = v.LogEndOffset
		}
	}
	ids := func(rs []kmsg.DescribeQuorumResponseTopicPartitionReplicaState) string {
		var s []string
		for _, r := range rs {
			s = append(s, strconv.Itoa(int(r.ReplicaID)))
		}
		if len(s) == 0 {
			return "none"
		}
		return strings.Join(s, ",")
	}
	fmt.Fprintf(w, "Metadata quorum (__cluster_metadata-0): leader %d (the active controller), epoch %d, high watermark %d\n", q.LeaderID, q.LeaderEpoch, q.HighWatermark)
	fmt.Fprintf(w, "  voters: %s; observers: %s\n", ids(q.CurrentVoters), ids(q.Observers))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tROLE\tLOG END OFFSET\tLAG\tLAST FETCH\tLAST CAUGHT UP")
	row := func(r kmsg.DescribeQuorumResponseTopicPartitionReplicaState, role string) {
		if r.ReplicaID == q.LeaderID {
			role = "leader"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%d\t%d\t%s\t%s\n", r.ReplicaID, role, r.LogEndOffset, max(leaderEnd-r.LogEndOffset, 0),
			ago(r.LastFetchTimestamp, now), ago(r.LastCaughtUpTimestamp, now))
	}
	for _, v := range q.CurrentVoters {
		row(v, "follower")
	}
	for _, o := range q.Observers {
		row(o, "observer")
	}
	tw.Flush()
}

// ago renders a millisecond timestamp relative to now ("-" when unknown, as Kafka's -1).
func ago(ms int64, now time.Time) string {
	if ms <= 0 {
		return "-"
	}
	d := max(now.Sub(time.UnixMilli(ms)), 0)
	return d.Round(time.Millisecond).String() + " ago"
}

// printPartitionHealth counts partitions and lists the under-replicated (ISR smaller than the
// replicas) and offline (no leader) ones, in kafka-topics.sh --describe's partition format.
func printPartitionHealth(w io.Writer, topics kadm.TopicDetails) {
	var total int
	var under, offline []string
	for _, d := range topics.Sorted() {
		if d.Err != nil {
			continue
		}
		for _, p := range d.Partitions.Sorted() {
			total++
			line := fmt.Sprintf("  Topic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s", d.Topic, p.Partition,
				leaderString(p.Leader), formatBrokerIDs(p.Replicas), formatBrokerIDs(p.ISR))
			if len(p.OfflineReplicas) > 0 {
				line += "\tOffline: " + formatBrokerIDs(p.OfflineReplicas)
			}
			switch {
			case p.Leader < 0:
				offline = append(offline, line)
			case len(p.ISR) < len(p.Replicas):
				under = append(under, line)
			}
		}
	}
	fmt.Fprintf(w, "Partitions: %d in %d topics; %d under-replicated, %d offline\n", total, len(topics), len(under), len(offline))
	if len(under) > 0 {
		fmt.Fprintln(w, "Under-replicated:")
		fmt.Fprintln(w, strings.Join(under, "\n"))
	}
	if len(offline) > 0 {
		fmt.Fprintln(w, "Offline:")
		fmt.Fprintln(w, strings.Join(offline, "\n"))
	}
}

// leaderString is a partition leader as kafka-topics.sh prints it ("none" for no leader).
func leaderString(id int32) string {
	if id < 0 {
		return "none"
	}
	return strconv.Itoa(int(id))
}
