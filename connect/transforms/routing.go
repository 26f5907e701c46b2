package transforms

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gregor-streams/gregor/connect"
)

func init() {
	registerTransform("RegexRouter", false, newRegexRouter)
	registerTransform("TimestampRouter", false, newTimestampRouter)
	registerTransform("Filter", false, func(*Config, bool) Transformation { return filter{} })
	registerTransform("DropHeaders", false, newDropHeaders)
	registerTransform("InsertHeader", false, newInsertHeader)
	registerTransform("HeaderFrom", true, newHeaderFrom)
	registerPredicate("TopicNameMatches", newTopicNameMatches)
	registerPredicate("HasHeaderKey", newHasHeaderKey)
	registerPredicate("RecordIsTombstone", func(*Config) Predicate { return isTombstone{} })
}

// compileFull compiles a Java regex that must match the whole input (Matcher.matches()).
func compileFull(c *Config, key string) *regexp.Regexp {
	re := c.Required(key)
	if re == "" {
		return nil
	}
	r, err := regexp.Compile(`^(?:` + re + `)$`)
	if err != nil {
		c.Invalid(key, "Invalid regex: "+err.Error())
		return nil
	}
	return r
}

// javaReplacement converts a Java Matcher replacement ($1, ${name}, \$) to Go's Expand syntax.
func javaReplacement(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s):
			i++
			if s[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[i])
			}
		case ch == '$' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			b.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// ---- RegexRouter ----

type regexRouter struct {
	re   *regexp.Regexp
	repl string
}

func newRegexRouter(c *Config, _ bool) Transformation {
	t := &regexRouter{re: compileFull(c, "regex")}
	if _, ok := c.Get("replacement"); !ok {
		c.Fail("replacement", "Missing required configuration %q which has no default value.", c.full("replacement"))
	}
	t.repl = javaReplacement(c.String("replacement", ""))
	return t
}

func (t *regexRouter) Apply(r Record) (*Record, error) {
	if t.re.MatchString(r.Topic) {
		r.Topic = t.re.ReplaceAllString(r.Topic, t.repl)
	}
	return &r, nil
}

// ---- TimestampRouter ----

type timestampRouter struct {
	topicFormat string
	layout      string
}

func newTimestampRouter(c *Config, _ bool) Transformation {
	t := &timestampRouter{topicFormat: c.String("topic.format", "${topic}-${timestamp}")}
	layout, err := javaDateLayout(c.String("timestamp.format", "yyyyMMdd"))
	if err != nil {
		c.Invalid("timestamp.format", err.Error())
	}
	t.layout = layout
	return t
}

func (t *timestampRouter) Apply(r Record) (*Record, error) {
	if r.Timestamp.IsZero() {
		return nil, dataErr("Timestamp missing on record: topic %s", r.Topic)
	}
	ts := r.Timestamp.UTC().Format(t.layout)
	r.Topic = strings.ReplaceAll(strings.ReplaceAll(t.topicFormat, "${topic}", r.Topic), "${timestamp}", ts)
	return &r, nil
}

// javaDateLayout converts a java.text.SimpleDateFormat pattern to a Go layout (the common letters:
// y M d H h m s S a Z X and quoted literals).
func javaDateLayout(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); {
		ch := p[i]
		if ch == '\'' {
			j := strings.IndexByte(p[i+1:], '\'')
			if j < 0 {
				return "", fmt.Errorf("unterminated quote in %q", p)
			}
			if j == 0 {
				b.WriteByte('\'')
			} else {
				b.WriteString(p[i+1 : i+1+j])
			}
			i += j + 2
			continue
		}
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z') {
			b.WriteByte(ch)
			i++
			continue
		}
		n := 1
		for i+n < len(p) && p[i+n] == ch {
			n++
		}
		var s string
		switch ch {
		case 'y', 'Y': // NB: Java's Y is the week year; it equals the year except around New Year.
			s = "2006"
			if n == 2 {
				s = "06"
			}
		case 'M':
			s = map[int]string{1: "1", 2: "01", 3: "Jan"}[min(n, 4)]
			if n >= 4 {
				s = "January"
			}
		case 'd':
			s = "02"
			if n == 1 {
				s = "2"
			}
		case 'H':
			s = "15"
		case 'h':
			s = "03"
			if n == 1 {
				s = "3"
			}
		case 'm':
			s = "04"
			if n == 1 {
				s = "4"
			}
		case 's':
			s = "05"
			if n == 1 {
				s = "5"
			}
		case 'S':
			s = strings.Repeat("0", n)
			// Go needs a separator before fractional seconds; Java's usual ".SSS" has one.
			if b.Len() == 0 || !strings.ContainsAny(b.String()[b.Len()-1:], ".,") {
				return "", fmt.Errorf("fractional seconds must follow '.' or ',' in %q", p)
			}
		case 'a':
			s = "PM"
		case 'Z':
			s = "-0700"
		case 'X':
			s = "Z07:00"
			if n == 1 {
				s = "Z07"
			} else if n == 2 {
				s = "Z0700"
			}
		case 'E':
			s = "Mon"
			if n >= 4 {
				s = "Monday"
			}
		default:
			return "", fmt.Errorf("unsupported pattern letter %q in %q", ch, p)
		}
		b.WriteString(s)
		i += n
	}
	return b.String(), nil
}

// ---- Filter ----

type filter struct{}

func (filter) Apply(Record) (*Record, error) { return nil, nil }

// ---- DropHeaders ----

type dropHeaders struct{ names map[string]bool }

func newDropHeaders(c *Config, _ bool) Transformation {
	t := &dropHeaders{names: map[string]bool{}}
	for _, h := range c.RequiredList("headers") {
		t.names[h] = true
	}
	return t
}

func (t *dropHeaders) Apply(r Record) (*Record, error) {
	var hs []connect.Header
	for _, h := range r.Headers {
		if !t.names[h.Key] {
			hs = append(hs, h)
		}
	}
	r.Headers = hs
	return &r, nil
}

// ---- InsertHeader ----

type insertHeader struct {
	name  string
	value []byte
}

func newInsertHeader(c *Config, _ bool) Transformation {
	t := &insertHeader{name: c.Required("header")}
	v, ok := c.Get("value.literal")
	if !ok {
		c.Fail("value.literal", "Missing required configuration %q which has no default value.", c.full("value.literal"))
	}
	t.value = []byte(v)
	return t
}

func (t *insertHeader) Apply(r Record) (*Record, error) {
	hs := make([]connect.Header, 0, len(r.Headers)+1)
	hs = append(append(hs, r.Headers...), connect.Header{Key: t.name, Value: t.value})
	r.Headers = hs
	return &r, nil
}

// ---- HeaderFrom ----

type headerFrom struct {
	op      operand
	fields  []string
	headers []string
	move    bool
}

func newHeaderFrom(c *Config, isKey bool) Transformation {
	t := &headerFrom{op: operand(isKey), fields: c.RequiredList("fields"), headers: c.RequiredList("headers")}
	if len(t.fields) != len(t.headers) && len(t.fields) > 0 && len(t.headers) > 0 {
		c.Invalid("headers", "'fields' config must have the same number of elements as 'headers' config")
	}
	switch op := strings.TrimSpace(c.Required("operation")); op {
	case "move":
		t.move = true
	case "copy", "":
	default:
		c.Invalid("operation", "must be one of move, copy")
	}
	return t
}

// headerBytes encodes a value as a header value: strings and bytes as is, everything else as JSON.
func headerBytes(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(x), nil
	case []byte:
		return x, nil
	case *connect.Struct:
		m := map[string]any{}
		for _, f := range x.Schema.Fields {
			m[f.Name] = x.Get(f.Name)
		}
		return json.Marshal(m)
	case map[any]any:
		m := map[string]any{}
		for k, e := range x {
			m[fmt.Sprint(k)] = e
		}
		return json.Marshal(m)
	case int8, int16, int32, int64, int:
		return []byte(fmt.Sprint(x)), nil
	case bool:
		return []byte(strconv.FormatBool(x)), nil
	}
	return json.Marshal(v)
}

func (t *headerFrom) Apply(r Record) (*Record, error) {
	schema, v := t.op.get(&r)
	hs := append([]connect.Header(nil), r.Headers...)
	if schema == nil {
		if v == nil {
			return &r, nil
		}
		m, anyKeys, err := requireMap(v, "header from field")
		if err != nil {
			return nil, err
		}
		for i, f := range t.fields {
			b, err := headerBytes(m[f])
			if err != nil {
				return nil, err
			}
			hs = append(hs, connect.Header{Key: t.headers[i], Value: b})
			if t.move {
				delete(m, f)
			}
		}
		r.Headers = hs
		t.op.set(&r, nil, fromMap(m, anyKeys))
		return &r, nil
	}
	if v == nil {
		return &r, nil
	}
	st, err := requireStruct(v, "header from field")
	if err != nil {
		return nil, err
	}
	for i, f := range t.fields {
		b, err := headerBytes(st.Get(f))
		if err != nil {
			return nil, err
		}
		hs = append(hs, connect.Header{Key: t.headers[i], Value: b})
	}
	r.Headers = hs
	if t.move {
		ns := structSchemaLike(st.Schema)
		for _, f := range st.Schema.Fields {
			if !slices.Contains(t.fields, f.Name) {
				addField(ns, f.Name, f.Schema)
			}
		}
		out := connect.NewStruct(ns)
		for _, f := range ns.Fields {
			if err := out.Put(f.Name, st.Get(f.Name)); err != nil {
				return nil, err
			}
		}
		t.op.set(&r, ns, out)
	}
	return &r, nil
}

// ---- predicates ----

type topicNameMatches struct{ re *regexp.Regexp }

func newTopicNameMatches(c *Config) Predicate {
	re := compileFull(c, "pattern")
	if re == nil {
		return nil
	}
	return topicNameMatches{re: re}
}

func (p topicNameMatches) Test(r *Record) bool { return p.re.MatchString(r.Topic) }

type hasHeaderKey struct{ name string }

func newHasHeaderKey(c *Config) Predicate { return hasHeaderKey{name: c.Required("name")} }

func (p hasHeaderKey) Test(r *Record) bool {
	for _, h := range r.Headers {
		if h.Key == p.name {
			return true
		}
	}
	return false
}

type isTombstone struct{}

func (isTombstone) Test(r *Record) bool { return r.Value == nil }
