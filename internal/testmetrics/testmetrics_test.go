package testmetrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestValueSumsMatchingSamplesOnly(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c_total", Help: "h"}, []string{"a", "b"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h_seconds", Help: "h"})
	reg.MustRegister(c, h)
	c.WithLabelValues("x", "1").Add(2)
	c.WithLabelValues("x", "2").Add(3)
	c.WithLabelValues("y", "1").Add(5)
	h.Observe(1)
	h.Observe(2)
	fs, err := Gather(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		want  []string
		sum   float64
		found bool
	}{
		{"c_total", nil, 10, true},
		{"c_total", []string{"a=x"}, 5, true},
		{"c_total", []string{"a=x", "b=2"}, 3, true},
		{"c_total", []string{"a=z"}, 0, false},
		{"h_seconds", nil, 2, true},
		{"missing", nil, 0, false},
	} {
		if sum, found := fs.Value(tc.name, tc.want...); sum != tc.sum || found != tc.found {
			t.Errorf("Value(%s, %v) = %v, %v; want %v, %v", tc.name, tc.want, sum, found, tc.sum, tc.found)
		}
	}
}
