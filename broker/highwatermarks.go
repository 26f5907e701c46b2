package broker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/broker/log"
)

// The high watermark of every partition is checkpointed in Kafka's replication-offset-checkpoint
// file, one per log dir, holding the partitions of that dir: a version line (0), a count line,
// then "topic partition highWatermark" a line. It holds the replicas hosted here (the applier opens those with their checkpointed high
// watermark, so a restarted replica neither starts at 0 nor serves uncommitted records). It is written every
// replica.high.watermark.checkpoint.interval.ms and on a clean stop, and read at start: a
// partition's log opens with its high watermark at its log end offset, which may hold records
// that were never committed (acks=1 writes while the ISR is below min.insync.replicas, or, in a
// cluster, records no quorum has); restoring the checkpointed one keeps a consumer from reading
// them after a restart.

const highWatermarkCheckpointFile = "replication-offset-checkpoint"

type topicPartition struct {
	topic     string
	partition int32
}

// readHighWatermarks reads the checkpoint of every log dir. A missing file is no entries; a
// malformed one is an error (Kafka refuses to start on a corrupt checkpoint too).
func (b *Broker) readHighWatermarks() (map[topicPartition]int64, error) {
	out := map[topicPartition]int64{}
	for _, dir := range b.cfg.LogDirs {
		name := filepath.Join(dir, highWatermarkCheckpointFile)
		data, err := log.ReadFile(b.fs, name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			err = parseHighWatermarks(data, out)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return out, nil
}

func parseHighWatermarks(data []byte, into map[topicPartition]int64) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 2 || lines[0] != "0" {
		return errors.New("malformed: want version 0 and a count")
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n != len(lines)-2 {
		return fmt.Errorf("malformed: count %q for %d entries", lines[1], len(lines)-2)
	}
	for i, l := range lines[2:] {
		f := strings.Fields(l)
		if len(f) != 3 {
			return fmt.Errorf("malformed entry %d: %q", i, l)
		}
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		hw, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || p < 0 || hw < 0 {
			return fmt.Errorf("malformed entry %d: %q", i, l)
		}
		into[topicPartition{f[0], int32(p)}] = hw
	}
	return nil
}

// checkpointHighWatermarks writes each log dir's checkpoint whose contents changed since the last
// write. Not under Broker.mu: it reads the partitions' high watermarks from their replica state.
// Callers are serialized (the checkpoint loop, then Close after the loop stopped).
func (b *Broker) checkpointHighWatermarks() error {
	byDir := map[string][]string{}
	add := func(tp topicPartition, hw int64) {
		dir := filepath.Dir(b.partitionDir(tp.topic, tp.partition))
		byDir[dir] = append(byDir[dir], tp.topic+" "+strconv.Itoa(int(tp.partition))+" "+strconv.FormatInt(hw, 10))
	}
	for _, p := range b.servedPartitions() {
		hw, _ := p.state.Offsets()
		add(topicPartition{p.topic.name, p.index}, hw)
	}
	// NB: the replicas the image has not reopened yet keep the high watermark they were
	// checkpointed with, so a restart before the applier caught up loses none.
	if b.kraft != nil { // NB: nil only when Start failed before the cluster side started
		for tp, hw := range b.kraft.applier.unopenedHighWatermarks() {
			add(tp, hw)
		}
	}
	var errs []error
	for _, dir := range b.cfg.LogDirs {
		entries := byDir[dir]
		slices.Sort(entries) // NB: stable contents, so an unchanged checkpoint is not rewritten
		var buf bytes.Buffer
		fmt.Fprintf(&buf, "0\n%d\n", len(entries))
		for _, e := range entries {
			buf.WriteString(e)
			buf.WriteByte('\n')
		}
		if bytes.Equal(buf.Bytes(), b.hwCheckpoints[dir]) {
			continue
		}
		if err := log.WriteFileAtomic(b.fs, filepath.Join(dir, highWatermarkCheckpointFile), buf.Bytes()); err != nil {
			errs = append(errs, fmt.Errorf("checkpoint high watermarks in %s: %w", dir, err))
			continue
		}
		b.hwCheckpoints[dir] = buf.Bytes()
	}
	return errors.Join(errs...)
}

// highWatermarkCheckpointLoop checkpoints the high watermarks every
// replica.high.watermark.checkpoint.interval.ms.
func (b *Broker) highWatermarkCheckpointLoop() {
	defer b.wg.Done()
	t := time.NewTicker(time.Duration(b.cfg.ReplicaHighWatermarkCheckpointIntervalMs) * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			if err := b.checkpointHighWatermarks(); err != nil {
				b.repeats.Warn("checkpointing high watermarks failed", "err", err)
			}
		}
	}
}
