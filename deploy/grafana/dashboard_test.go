// Package grafana_test checks deploy/grafana/gregor.json against live metrics: every metric name its
// PromQL expressions reference must be one a broker, a Connect worker or a streams.App actually
// expose.
package grafana_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	_ "github.com/gregor-streams/gregor/connectors/file"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testconnect"
	"github.com/gregor-streams/gregor/internal/testmetrics"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"` // a collapsed row's panels
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// expressions returns every PromQL expression of the dashboard, by where it is.
func expressions(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("gregor.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("gregor.json: %v", err)
	}
	out := map[string]string{}
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for i, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) != "" {
					out[fmt.Sprintf("panel %q target %d", p.Title, i)] = tg.Expr
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := ""
		switch x := v.Query.(type) {
		case string:
			q = x
		case map[string]any:
			q, _ = x["query"].(string)
		}
		// label_values(metric, label): only the metric is a metric name.
		if m := labelValues.FindStringSubmatch(q); m != nil {
			out["variable "+v.Name] = m[1]
		} else if q != "" {
			out["variable "+v.Name] = q
		}
	}
	return out
}

var labelValues = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)

// promqlKeywords are PromQL words that are not metric names. by, without, on, ignoring,
// group_left and group_right are followed by a label list, which is skipped.
var promqlKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "bool": true, "and": true, "or": true, "unless": true,
	"offset": true, "atan2": true, "inf": true, "nan": true,
	// Aggregation operators, which may be followed by by/without instead of "(".
	"sum": true, "avg": true, "min": true, "max": true, "count": true, "group": true, "stddev": true,
	"stdvar": true, "topk": true, "bottomk": true, "quantile": true, "count_values": true,
	"limitk": true, "limit_ratio": true}

var labelListKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

// metricNames returns the metric names expr selects: identifiers that are not function or
// aggregation names (followed by "("), keywords, label names in a by/without/on/ignoring/group_*
// list, or inside label matchers ({...}), ranges ([...]) or strings.
func metricNames(expr string) ([]string, error) {
	var names []string
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
	isIdent := func(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }
	skipString := func(i int) (int, error) {
		q := expr[i]
		for j := i + 1; j < len(expr); j++ {
			if expr[j] == '\\' && q != '`' {
				j++
				continue
			}
			if expr[j] == q {
				return j + 1, nil
			}
		}
		return 0, fmt.Errorf("unterminated string at %d in %q", i, expr)
	}
	skipBlock := func(i int, open, close byte) (int, error) {
		depth := 0
		for j := i; j < len(expr); {
			switch c := expr[j]; {
			case c == '"' || c == '\'' || c == '`':
				var err error
				if j, err = skipString(j); err != nil {
					return 0, err
				}
				continue
			case c == open:
				depth++
			case c == close:
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
			j++
		}
		return 0, fmt.Errorf("unbalanced %c at %d in %q", open, i, expr)
	}
	nextNonSpace := func(i int) int {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\t' || expr[i] == '\n') {
			i++
		}
		return i
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		var err error
		switch {
		case c == '"' || c == '\'' || c == '`':
			i, err = skipString(i)
		case c == '{':
			i, err = skipBlock(i, '{', '}')
		case c == '[':
			i, err = skipBlock(i, '[', ']')
		case c >= '0' && c <= '9' || (c == '.' && i+1 < len(expr) && expr[i+1] >= '0' && expr[i+1] <= '9'):
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++ // a number or a duration (5m, 1e3)
			}
		case c == '$':
			for i++; i < len(expr) && (isIdent(expr[i]) || expr[i] == '{' || expr[i] == '}'); i++ {
			}
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			word := expr[i:j]
			next := nextNonSpace(j)
			switch {
			case labelListKeywords[strings.ToLower(word)]:
				if next < len(expr) && expr[next] == '(' {
					j, err = skipBlock(next, '(', ')')
				}
			case promqlKeywords[strings.ToLower(word)]:
			case next < len(expr) && expr[next] == '(':
				// a function or aggregation
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
		if err != nil {
			return nil, err
		}
	}
	return names, nil
}

func TestMetricNamesExtractsOnlyMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`sum by (api, version) (rate(gregor_broker_requests_total{api="Produce",x=~"$v"}[$__rate_interval]))`, []string{"gregor_broker_requests_total"}},
		{`histogram_quantile(0.99, sum by (le) (rate(a_bucket[5m]))) > 0.5`, []string{"a_bucket"}},
		{`a - on (topic) group_left (partition) b offset 1h`, []string{"a", "b"}},
		{`sum(x) without (instance) / ignoring(job) y{l="}"} and bool z`, []string{"x", "y", "z"}},
		{`topk(5, gregor_group_lag{group=~"${group}"})`, []string{"gregor_group_lag"}},
		{`1e3 * .5`, nil},
	} {
		got, err := metricNames(tc.expr)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%s) = %v, %v; want %v", tc.expr, got, err, tc.want)
		}
	}
	if _, err := metricNames(`sum(x{a="b)`); err == nil {
		t.Error("an unterminated matcher was accepted")
	}
}

// exposed reports whether name is a scraped series: a family, or the _bucket, _sum or _count
// series of a histogram (_sum and _count of a summary) family.
func exposed(fams testmetrics.Families, name string) bool {
	if _, ok := fams[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		if f := fams[base]; f != nil {
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				return true
			case dto.MetricType_SUMMARY:
				return suffix != "_bucket"
			}
		}
	}
	return false
}

// TestDashboardReferencesOnlyExposedMetrics starts a broker (with metrics.listener), a Connect
// worker and a streams.App, makes every kind of series appear (produce, a consumer group with lag,
// a request error, a running connector, an App processing records after restoring its store),
// scrapes the broker and the worker, gathers the App's registry, and checks every metric the
// dashboard names against them: gregor_streams_ names against the App's registry only.
func TestDashboardReferencesOnlyExposedMetrics(t *testing.T) {
	exprs := expressions(t)
	if len(exprs) < 20 {
		t.Fatalf("read only %d expressions from gregor.json", len(exprs))
	}
	tb := testbroker.Start(t, testbroker.Set("metrics.listener", "127.0.0.1:0"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.DefaultProduceTopic("dash"),
		kgo.ConsumerGroup("dash-group"), kgo.ConsumeTopics("dash"), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "dash"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "dash"); err == nil {
		t.Fatal("creating an existing topic succeeded") // the error feeds gregor_broker_request_errors_total
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for got := 0; got < 1 && ctx.Err() == nil; {
		got += cl.PollFetches(ctx).NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}

	w := testconnect.StartStandalone(t, tb.Addr(), nil, "", nil)
	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte("line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"name":"dash-source","config":{"connector.class":"FileStreamSource","file":%q,"topic":"dash-lines"}}`, in)
	resp, err := http.Post("http://"+w.Addr+"/connectors", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create connector: %s", resp.Status)
	}

	streamsReg := runStreamsApp(ctx, t, tb.Addr())

	urls := []string{"http://" + tb.Broker().MetricsAddr() + "/metrics", "http://" + w.Addr + "/metrics"}
	var missing []string
	testutil.CheckFor(t, 15*time.Second, 100*time.Millisecond, func() error {
		all := testmetrics.Families{}
		for _, u := range urls {
			fams, err := testmetrics.Scrape(u)
			if err != nil {
				return err
			}
			for k, v := range fams {
				all[k] = v
			}
		}
		appFams, err := testmetrics.Gather(streamsReg)
		if err != nil {
			return err
		}
		missing = missing[:0]
		for where, expr := range exprs {
			names, err := metricNames(expr)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if len(names) == 0 {
				t.Fatalf("%s: %q names no metric", where, expr)
			}
			for _, n := range names {
				fams := all
				if strings.HasPrefix(n, "gregor_streams_") {
					fams = appFams
				}
				if !exposed(fams, n) {
					missing = append(missing, fmt.Sprintf("%s: %s", where, n))
				}
			}
		}
		// The check itself must be able to fail: a made-up name is reported.
		if exposed(all, "gregor_broker_no_such_metric_total") || exposed(all, "gregor_group_lag_bucket") {
			t.Fatal("exposed() accepts names that are not scraped")
		}
		if !exposed(appFams, "gregor_streams_process_latency_seconds_bucket") ||
			exposed(appFams, "gregor_streams_process_record_total") || exposed(all, "gregor_streams_process_records_total") {
			t.Fatal("exposed() misjudges streams names: a histogram's bucket, a misspelling, or a name outside the App's registry")
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return fmt.Errorf("dashboard names metrics no scrape has:\n%s", strings.Join(missing, "\n"))
		}
		return nil
	})
}
