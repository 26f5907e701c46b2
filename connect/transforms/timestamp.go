package transforms

import (
	"fmt"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/connect"
)

func init() { registerTransform("TimestampConverter", true, newTimestampConverter) }

// timestampConverter is Kafka's TimestampConverter. As in Kafka, Date, Time and Timestamp values
// are time.Time (schemaless too: a JSON converter without schemas writes them as epoch millis);
// an input is read from its schema (Timestamp, Date, Time, int64 unix, string) or, schemaless, from
// its Go type (time.Time, int64, string). Older records carrying a Date or Time as its int32
// representation are still read.
type timestampConverter struct {
	op        operand
	field     string
	target    string
	layout    string
	precision time.Duration
}

func newTimestampConverter(c *Config, isKey bool) Transformation {
	t := &timestampConverter{op: operand(isKey), field: strings.TrimSpace(c.String("field", "")), target: c.Required("target.type")}
	switch t.target {
	case "string", "unix", "Date", "Time", "Timestamp", "":
	default:
		c.Invalid("target.type", "Unknown timestamp type in TimestampConverter; must be one of string, unix, Date, Time, Timestamp")
	}
	if f := c.String("format", ""); f != "" {
		l, err := javaDateLayout(f)
		if err != nil {
			c.Invalid("format", "TimestampConverter requires a SimpleDateFormat-compatible pattern: "+err.Error())
		}
		t.layout = l
	} else if t.target == "string" {
		c.Fail("format", "TimestampConverter requires format option to be specified when using string timestamps (%s)", c.full("format"))
	}
	switch p := c.String("unix.precision", "milliseconds"); p {
	case "seconds":
		t.precision = time.Second
	case "milliseconds":
		t.precision = time.Millisecond
	case "microseconds":
		t.precision = time.Microsecond
	case "nanoseconds":
		t.precision = time.Nanosecond
	default:
		c.Invalid("unix.precision", "must be one of seconds, milliseconds, microseconds, nanoseconds")
	}
	return t
}

func (t *timestampConverter) toTime(s *connect.Schema, v any) (time.Time, error) {
	name := ""
	if s != nil {
		name = s.Name
	}
	switch x := v.(type) {
	case string:
		if t.layout == "" {
			return time.Time{}, dataErr("TimestampConverter: a string timestamp needs format")
		}
		tm, err := time.Parse(t.layout, x)
		if err != nil {
			return time.Time{}, dataErr("could not parse timestamp %q: %v", x, err)
		}
		return tm.UTC(), nil
	case int64:
		if name == TimestampSchemaName {
			return time.UnixMilli(x).UTC(), nil
		}
		return time.Unix(0, 0).Add(time.Duration(x) * t.precision).UTC(), nil
	case int32:
		switch name {
		case DateSchemaName:
			return time.Unix(int64(x)*86400, 0).UTC(), nil
		case TimeSchemaName:
			return time.UnixMilli(int64(x)).UTC(), nil
		}
	case time.Time:
		return x.UTC(), nil
	}
	return time.Time{}, dataErr("TimestampConverter cannot convert %T (schema %q)", v, name)
}

func (t *timestampConverter) from(tm time.Time, optional bool) (*connect.Schema, any) {
	var s *connect.Schema
	var v any
	tm = time.UnixMilli(tm.UnixMilli()).UTC() // Kafka's dates have millisecond precision
	switch t.target {
	case "string":
		s, v = &connect.Schema{Type: connect.TypeString}, tm.Format(t.layout)
	case "unix":
		s, v = &connect.Schema{Type: connect.TypeInt64}, tm.UnixNano()/int64(t.precision)
	case "Date":
		s, v = connect.DateSchema(), tm.Truncate(24*time.Hour)
	case "Time":
		s, v = connect.TimeSchema(), time.UnixMilli(tm.Sub(tm.Truncate(24*time.Hour)).Milliseconds()).UTC()
	default:
		s, v = connect.TimestampSchema(), tm
	}
	s.Optional = optional
	return s, v
}

func (t *timestampConverter) Apply(r Record) (*Record, error) {
	schema, v := t.op.get(&r)
	if v == nil {
		return &r, nil
	}
	if t.field == "" {
		tm, err := t.toTime(schema, v)
		if err != nil {
			return nil, err
		}
		ns, nv := t.from(tm, schema != nil && schema.Optional)
		if schema == nil {
			ns = nil
		}
		t.op.set(&r, ns, nv)
		return &r, nil
	}
	if schema == nil {
		m, anyKeys, err := requireMap(v, "converting timestamp formats")
		if err != nil {
			return nil, err
		}
		if e, ok := m[t.field]; ok && e != nil {
			tm, err := t.toTime(nil, e)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", t.field, err)
			}
			_, m[t.field] = t.from(tm, false)
		}
		t.op.set(&r, nil, fromMap(m, anyKeys))
		return &r, nil
	}
	st, err := requireStruct(v, "converting timestamp formats")
	if err != nil {
		return nil, err
	}
	ns := structSchemaLike(st.Schema)
	var nv any
	for _, f := range st.Schema.Fields {
		fs := f.Schema
		if f.Name == t.field {
			if e := st.Get(f.Name); e != nil {
				tm, err := t.toTime(f.Schema, e)
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", t.field, err)
				}
				fs, nv = t.from(tm, f.Schema.Optional)
			} else {
				fs, _ = t.from(time.Time{}, true)
			}
		}
		addField(ns, f.Name, fs)
	}
	out := connect.NewStruct(ns)
	for _, f := range st.Schema.Fields {
		val := st.Get(f.Name)
		if f.Name == t.field {
			val = nv
		}
		if err := out.Put(f.Name, val); err != nil {
			return nil, err
		}
	}
	t.op.set(&r, ns, out)
	return &r, nil
}
