package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

func init() {
	// metrics.listener (Gregor's own): host:port of the HTTP listener serving Prometheus metrics on
	// /metrics, e.g. 127.0.0.1:9404 (the JMX exporter's customary port); empty, the default, is off.
	brokerKeys["metrics.listener"] = brokerKey{def: "", apply: func(b *Broker, v string) error {
		addr, err := parseMetricsListener(v)
		b.MetricsListener = addr
		return err
	}}
}

// parseMetricsListener checks a metrics.listener value: empty, or host:port with a numeric port
// (0 picks a free one). A URL-style value (http://host:port) is accepted for convenience.
func parseMetricsListener(v string) (string, error) {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "http://")
	if v == "" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", fmt.Errorf("want host:port (e.g. 127.0.0.1:9404), got %q: %v", v, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("want host:port with a port from 0 to 65535, got %q", v)
	}
	return net.JoinHostPort(host, port), nil
}
