// Package testmetrics reads Prometheus metrics the way Prometheus does, for the tests of the
// broker, Connect and the Grafana dashboard: it scrapes a /metrics URL or gathers a registry, and
// sums the samples of one metric selected by labels.
package testmetrics

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Scrape GETs url and parses its text exposition format.
func Scrape(url string) (Families, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return fams, nil
}

// Gather reads g (a registry) without HTTP.
func Gather(g prometheus.Gatherer) (Families, error) {
	list, err := g.Gather()
	if err != nil {
		return nil, err
	}
	fams := Families{}
	for _, f := range list {
		fams[f.GetName()] = f
	}
	return fams, nil
}

// Value sums the samples of name whose labels include every "key=value" of want: counters and
// gauges give their value, histograms and summaries their sample count. found is false when no
// sample matched.
func (fs Families) Value(name string, want ...string) (sum float64, found bool) {
	mf := fs[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Summary != nil:
			sum += float64(m.Summary.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum, found
}

func hasLabels(m *dto.Metric, want []string) bool {
	for _, w := range want {
		k, v, _ := strings.Cut(w, "=")
		ok := false
		for _, l := range m.GetLabel() {
			ok = ok || (l.GetName() == k && l.GetValue() == v)
		}
		if !ok {
			return false
		}
	}
	return true
}
