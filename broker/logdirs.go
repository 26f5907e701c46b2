package broker

import (
	"path/filepath"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// DescribeLogDirs v0-4 (v3: top-level error code; v4: volume total and usable bytes, KIP-827).
	register(35, 0, 4, func(b *Broker, _ *server.Conn, r *kmsg.DescribeLogDirsRequest) server.Response {
		return server.Response{Msg: b.handleDescribeLogDirs(r)}
	})
}

// logDirReplica is one partition replica hosted here, as DescribeLogDirs reports it.
type logDirReplica struct {
	topic string
	p     *partition
}

// handleDescribeLogDirs reports every log dir of this broker with the replicas it holds (null topics:
// all of them), both single-node partitions and the KRaft image's partitions assigned here (leaders
// and followers alike): size on disk and offset lag (max(high watermark − log end offset, 0), Kafka's
// formula for a current log).
func (b *Broker) handleDescribeLogDirs(r *kmsg.DescribeLogDirsRequest) *kmsg.DescribeLogDirsResponse {
	resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	byDir := map[string][]logDirReplica{}
	for _, rep := range b.replicasFor(r.Topics) {
		dir := filepath.Dir(b.partitionDir(rep.topic, rep.p.index))
		byDir[dir] = append(byDir[dir], rep)
	}
	for _, dir := range b.cfg.LogDirs {
		d := kmsg.NewDescribeLogDirsResponseDir()
		d.Dir = dir
		if abs, err := filepath.Abs(dir); err == nil {
			d.Dir = abs
		}
		d.TotalBytes, d.UsableBytes = volumeBytes(dir)
		reps := byDir[filepath.Clean(dir)]
		slices.SortFunc(reps, func(x, y logDirReplica) int {
			if x.topic != y.topic {
				if x.topic < y.topic {
					return -1
				}
				return 1
			}
			return int(x.p.index - y.p.index)
		})
		for _, rep := range reps {
			if n := len(d.Topics); n == 0 || d.Topics[n-1].Topic != rep.topic {
				t := kmsg.NewDescribeLogDirsResponseDirTopic()
				t.Topic = rep.topic
				d.Topics = append(d.Topics, t)
			}
			t := &d.Topics[len(d.Topics)-1]
			p := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			p.Partition = rep.p.index
			p.Size = rep.p.log.Size()
			p.OffsetLag = max(rep.p.log.HighWatermark()-rep.p.log.LogEndOffset(), 0)
			t.Partitions = append(t.Partitions, p)
		}
		resp.Dirs = append(resp.Dirs, d)
	}
	return resp
}

// replicasFor snapshots the partitions hosted here among topics (nil: every partition). A KRaft image
// topic's slots for partitions hosted elsewhere are nil and skipped.
func (b *Broker) replicasFor(topics []kmsg.DescribeLogDirsRequestTopic) []logDirReplica {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []logDirReplica
	add := func(t *topic, index int32) {
		if index >= 0 && int(index) < len(t.partitions) && t.partitions[index] != nil {
			out = append(out, logDirReplica{topic: t.name, p: t.partitions[index]})
		}
	}
	if topics == nil {
		for _, t := range b.topics {
			for i := range t.partitions {
				add(t, int32(i))
			}
		}
		return out
	}
	for _, rt := range topics {
		t := b.topics[rt.Topic]
		if t == nil {
			continue
		}
		for _, index := range rt.Partitions {
			add(t, index)
		}
	}
	return out
}
