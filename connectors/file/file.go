package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/gregor-streams/gregor/connect"
)

// Kafka's class names and config keys.
const (
	SourceClass = "org.apache.kafka.connect.file.FileStreamSourceConnector"
	SinkClass   = "org.apache.kafka.connect.file.FileStreamSinkConnector"

	ConfigFile      = "file"
	ConfigTopic     = "topic"
	ConfigBatchSize = "batch.size"

	// Offset keys.
	FilenameField = "filename"
	PositionField = "position"
)

func init() {
	connect.Register(connect.Plugin{Class: SourceClass, Aliases: []string{"FileStreamSource"}, Type: connect.PluginSource,
		Version: connect.Version, New: func() connect.Connector { return &SourceConnector{} }})
	connect.Register(connect.Plugin{Class: SinkClass, Aliases: []string{"FileStreamSink"}, Type: connect.PluginSink,
		Version: connect.Version, New: func() connect.Connector { return &SinkConnector{} }})
}

func sourceConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: ConfigFile, Type: connect.TypeConfigString, Default: connect.NoDefault, Importance: connect.High,
			Documentation: "Source filename.", Validator: connect.NonEmptyString()}).
		Define(connect.ConfigKey{Name: ConfigTopic, Type: connect.TypeConfigString, Default: connect.NoDefault, Importance: connect.High,
			Documentation: "The topic to publish data to.", Validator: connect.NonEmptyString()}).
		Define(connect.ConfigKey{Name: ConfigBatchSize, Type: connect.TypeConfigInt, Default: "2000", Importance: connect.Low,
			Documentation: "The maximum number of records the source task can read from the file each time it is polled.", Validator: connect.AtLeast(1)})
}

func sinkConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: ConfigFile, Type: connect.TypeConfigString, Default: connect.NoDefault, Importance: connect.High,
			Documentation: "Destination filename.", Validator: connect.NonEmptyString()})
}

// SourceConnector is FileStreamSource.
type SourceConnector struct{ config map[string]string }

// Version implements connect.Connector.
func (*SourceConnector) Version() string { return connect.Version }

// ConfigDef implements connect.Connector.
func (*SourceConnector) ConfigDef() *connect.ConfigDef { return sourceConfigDef() }

// Start implements connect.Connector.
func (c *SourceConnector) Start(_ connect.ConnectorContext, config map[string]string) error {
	if _, err := sourceConfigDef().Parse(config); err != nil {
		return err
	}
	c.config = config
	return nil
}

// TaskConfigs implements connect.Connector: always one task.
func (c *SourceConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{{ConfigFile: c.config[ConfigFile], ConfigTopic: c.config[ConfigTopic], ConfigBatchSize: batchSizeOrDefault(c.config)}}, nil
}

func batchSizeOrDefault(cfg map[string]string) string {
	if v := strings.TrimSpace(cfg[ConfigBatchSize]); v != "" {
		return v
	}
	return "2000"
}

// Stop implements connect.Connector.
func (*SourceConnector) Stop() error { return nil }

// NewTask implements connect.SourceConnector.
func (*SourceConnector) NewTask() connect.SourceTask { return &SourceTask{} }

// SourceTask reads lines from the file.
type SourceTask struct {
	filename  string
	topic     string
	batchSize int

	f               *os.File
	sourcePartition map[string]any
	position        int64  // file offset just after the last line handed out
	pending         []byte // bytes read past position: an incomplete last line
	buf             []byte
}

// Start implements connect.SourceTask: it looks up the stored position; the file is opened on Poll
// (it may not exist yet).
func (t *SourceTask) Start(ctx connect.SourceTaskContext, config map[string]string) error {
	t.filename, t.topic = config[ConfigFile], config[ConfigTopic]
	n, err := strconv.Atoi(batchSizeOrDefault(config))
	if err != nil || n < 1 {
		return fmt.Errorf("%s: %q is not a positive integer", ConfigBatchSize, config[ConfigBatchSize])
	}
	t.batchSize = n
	off, err := ctx.OffsetReader().Offset(t.partition())
	if err != nil {
		return fmt.Errorf("reading offset of %s: %w", t.filename, err)
	}
	if off != nil {
		p, ok := off[PositionField].(int64)
		if !ok || p < 0 {
			return fmt.Errorf("stored offset of %s has no valid %q: %v", t.filename, PositionField, off)
		}
		t.position = p
	}
	t.buf = make([]byte, 64<<10)
	return nil
}

// partition returns the source partition, one map shared by every record of the task (the worker
// only reads it).
func (t *SourceTask) partition() map[string]any {
	if t.sourcePartition == nil {
		t.sourcePartition = map[string]any{FilenameField: t.filename}
	}
	return t.sourcePartition
}

// Poll implements connect.SourceTask. It never blocks waiting for data: it returns no records when
// the file has nothing new (or does not exist yet) and lets the worker back off.
func (t *SourceTask) Poll(ctx context.Context) ([]connect.SourceRecord, error) {
	if t.f == nil {
		f, err := os.Open(t.filename)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", t.filename, err)
		}
		if _, err := f.Seek(t.position, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("seeking %s to %d: %w", t.filename, t.position, err)
		}
		t.f = f
	}
	var records []connect.SourceRecord
	for len(records) < t.batchSize && ctx.Err() == nil {
		// Hand out complete lines already buffered.
		for len(records) < t.batchSize {
			i := bytes.IndexByte(t.pending, '\n')
			if i < 0 {
				break
			}
			line := t.pending[:i]
			line = bytes.TrimSuffix(line, []byte{'\r'})
			t.position += int64(i + 1)
			records = append(records, connect.SourceRecord{
				SourcePartition: t.partition(),
				SourceOffset:    map[string]any{PositionField: t.position},
				Topic:           t.topic,
				ValueSchema:     connect.StringSchema,
				Value:           string(line),
			})
			t.pending = t.pending[i+1:]
		}
		if len(records) >= t.batchSize {
			break
		}
		n, err := t.f.Read(t.buf)
		if n > 0 {
			// NB: copy so pending never aliases buf, which the next Read overwrites.
			t.pending = append(append([]byte(nil), t.pending...), t.buf[:n]...)
		}
		if err == io.EOF || n == 0 {
			break
		}
		if err != nil {
			return records, fmt.Errorf("reading %s: %w", t.filename, err)
		}
	}
	return records, nil
}

// Stop implements connect.SourceTask.
func (t *SourceTask) Stop() error {
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	return err
}

// SinkConnector is FileStreamSink.
type SinkConnector struct{ config map[string]string }

// Version implements connect.Connector.
func (*SinkConnector) Version() string { return connect.Version }

// ConfigDef implements connect.Connector.
func (*SinkConnector) ConfigDef() *connect.ConfigDef { return sinkConfigDef() }

// Start implements connect.Connector.
func (c *SinkConnector) Start(_ connect.ConnectorContext, config map[string]string) error {
	if _, err := sinkConfigDef().Parse(config); err != nil {
		return err
	}
	c.config = config
	return nil
}

// TaskConfigs implements connect.Connector: always one task (see the package doc).
func (c *SinkConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{{ConfigFile: c.config[ConfigFile]}}, nil
}

// Stop implements connect.Connector.
func (*SinkConnector) Stop() error { return nil }

// NewTask implements connect.SinkConnector.
func (*SinkConnector) NewTask() connect.SinkTask { return &SinkTask{} }

// SinkTask appends record values as lines.
type SinkTask struct {
	// NB: the worker calls one method at a time, but a Flush may come from the consumer's
	// rebalance callback rather than Put's goroutine; the lock keeps the file's state safe
	// without relying on how the worker orders them.
	mu struct {
		sync.Mutex
		f *os.File
		w *bufio.Writer
	}
}

// Start implements connect.SinkTask. A trailing partial line (a crash tore a buffered write) is cut
// off: a Flush always ends on a line boundary, so that line was never committed and will be
// delivered again.
func (t *SinkTask) Start(_ connect.SinkTaskContext, config map[string]string) error {
	f, err := os.OpenFile(config[ConfigFile], os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s: %w", config[ConfigFile], err)
	}
	if err := truncatePartialLine(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", config[ConfigFile], err)
	}
	t.mu.Lock()
	t.mu.f, t.mu.w = f, bufio.NewWriterSize(f, 256<<10)
	t.mu.Unlock()
	return nil
}

// truncatePartialLine cuts f after its last "\n" (to empty if it has none).
func truncatePartialLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	end := st.Size()
	buf := make([]byte, 64<<10)
	for pos := end; pos > 0; {
		n := int64(len(buf))
		if n > pos {
			n = pos
		}
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return fmt.Errorf("reading the tail: %w", err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			if keep := pos + int64(i) + 1; keep < end {
				return truncateSynced(f, keep)
			}
			return nil
		}
	}
	if end > 0 {
		return truncateSynced(f, 0)
	}
	return nil
}

func truncateSynced(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("cutting a partial last line: %w", err)
	}
	return f.Sync()
}

// Put implements connect.SinkTask.
func (t *SinkTask) Put(records []connect.SinkRecord) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range records {
		switch v := r.Value.(type) {
		case nil:
			t.mu.w.WriteString("null")
		case string:
			t.mu.w.WriteString(v)
		case []byte:
			t.mu.w.Write(v)
		default:
			fmt.Fprint(t.mu.w, v)
		}
		if err := t.mu.w.WriteByte('\n'); err != nil {
			return fmt.Errorf("writing %s: %w", t.mu.f.Name(), err)
		}
	}
	return nil
}

// Flush implements connect.SinkTask: buffered lines are written and fsynced.
func (t *SinkTask) Flush(map[connect.TopicPartition]int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.mu.w.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", t.mu.f.Name(), err)
	}
	if err := t.mu.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", t.mu.f.Name(), err)
	}
	return nil
}

// Stop implements connect.SinkTask. Whatever was not flushed is written but not fsynced.
func (t *SinkTask) Stop() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.f == nil {
		return nil
	}
	err := t.mu.w.Flush()
	if cerr := t.mu.f.Close(); err == nil {
		err = cerr
	}
	t.mu.f = nil
	return err
}
