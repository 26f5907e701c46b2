package log

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

const (
	leaderEpochCheckpointFile = "leader-epoch-checkpoint"
	logStartOffsetFile        = "log-start-offset"
	cleanShutdownFile         = ".clean-shutdown"
	checkpointVersion         = 0
)

// Checkpoint files use Kafka's text layout: a version line, a count line, then one entry a line.

func encodeCheckpoint(entries [][2]int64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d\n", checkpointVersion, len(entries))
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %d\n", e[0], e[1])
	}
	return b.Bytes()
}

// readCheckpoint returns the entries of a checkpoint file, nil if the file does not exist.
func readCheckpoint(fsys FS, name string) ([][2]int64, error) {
	data, err := readFile(fsys, name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseCheckpoint(name, data)
}

func parseCheckpoint(name string, data []byte) ([][2]int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	bad := fmt.Errorf("checkpoint %s: malformed", name)
	if len(lines) < 2 || lines[0] != strconv.Itoa(checkpointVersion) {
		return nil, bad
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n < 0 || n != len(lines)-2 {
		return nil, bad
	}
	out := make([][2]int64, 0, n)
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if len(f) != 2 {
			return nil, bad
		}
		a, err1 := strconv.ParseInt(f[0], 10, 64)
		b, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, bad
		}
		out = append(out, [2]int64{a, b})
	}
	return out, nil
}

// epochEntry says that leader epoch Epoch started at StartOffset.
type epochEntry struct {
	epoch       int32
	startOffset int64
}

// epochCache is Kafka's LeaderEpochFileCache: epochs with their start offsets, both ascending.
// Guarded by Log.mu (writes also hold appendMu).
type epochCache struct {
	entries []epochEntry
}

func (c *epochCache) latest() int32 {
	if len(c.entries) == 0 {
		return -1
	}
	return c.entries[len(c.entries)-1].epoch
}

// assign records that epoch starts at offset, if epoch is newer than the latest. It reports
// whether the cache changed.
func (c *epochCache) assign(epoch int32, offset int64) bool {
	if epoch < 0 || epoch <= c.latest() {
		return false
	}
	// NB: an epoch can start where the previous one started if that one never appended.
	for len(c.entries) > 0 && c.entries[len(c.entries)-1].startOffset >= offset {
		c.entries = c.entries[:len(c.entries)-1]
	}
	c.entries = append(c.entries, epochEntry{epoch, offset})
	return true
}

// truncateFromEnd drops epochs starting at or after endOffset.
func (c *epochCache) truncateFromEnd(endOffset int64) bool {
	n := len(c.entries)
	for n > 0 && c.entries[n-1].startOffset >= endOffset {
		n--
	}
	changed := n != len(c.entries)
	c.entries = c.entries[:n]
	return changed
}

// truncateFromStart drops epochs wholly below startOffset; the epoch covering it now starts there.
func (c *epochCache) truncateFromStart(startOffset int64) bool {
	i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].startOffset > startOffset })
	if i == 0 {
		return false
	}
	changed := i > 1 || c.entries[0].startOffset != startOffset
	c.entries = c.entries[i-1:]
	c.entries[0].startOffset = startOffset
	return changed
}

// endOffsetFor follows Kafka's LeaderEpochFileCache.endOffsetFor.
func (c *epochCache) endOffsetFor(epoch int32, logEndOffset int64) (int32, int64) {
	if epoch < 0 || len(c.entries) == 0 {
		return -1, -1
	}
	if epoch == c.latest() {
		return epoch, logEndOffset
	}
	hi := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].epoch > epoch })
	if hi == len(c.entries) {
		return -1, -1 // newer than anything we know
	}
	if hi == 0 {
		return epoch, c.entries[0].startOffset
	}
	return c.entries[hi-1].epoch, c.entries[hi].startOffset
}

func (c *epochCache) encode() []byte {
	es := make([][2]int64, len(c.entries))
	for i, e := range c.entries {
		es[i] = [2]int64{int64(e.epoch), e.startOffset}
	}
	return encodeCheckpoint(es)
}

func decodeEpochs(es [][2]int64) ([]epochEntry, error) {
	out := make([]epochEntry, 0, len(es))
	for _, e := range es {
		if e[0] < 0 || e[0] > 1<<31-1 || e[1] < 0 {
			return nil, errors.New("leader epoch checkpoint: bad entry")
		}
		if n := len(out); n > 0 && (int32(e[0]) <= out[n-1].epoch || e[1] < out[n-1].startOffset) {
			return nil, errors.New("leader epoch checkpoint: entries not ascending")
		}
		out = append(out, epochEntry{int32(e[0]), e[1]})
	}
	return out, nil
}
