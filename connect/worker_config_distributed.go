package connect

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// DistributedConfig is a distributed worker's configuration, from Kafka Connect's property names.
type DistributedConfig struct {
	WorkerConfig
	// GroupID is group.id: the workers of one Connect cluster share it.
	GroupID string
	// ConfigTopic, OffsetTopic and StatusTopic are config.storage.topic, offset.storage.topic and
	// status.storage.topic.
	ConfigTopic, OffsetTopic, StatusTopic string
	// ConfigReplication, OffsetReplication and StatusReplication are *.storage.replication.factor
	// (default 3; -1 means the broker's default).
	ConfigReplication, OffsetReplication, StatusReplication int16
	// OffsetPartitions and StatusPartitions are *.storage.partitions (defaults 25 and 5); the config
	// topic always has one partition.
	OffsetPartitions, StatusPartitions int32
	// SessionTimeout, HeartbeatInterval and RebalanceTimeout are session.timeout.ms (10s),
	// heartbeat.interval.ms (3s) and rebalance.timeout.ms (60s).
	SessionTimeout, HeartbeatInterval, RebalanceTimeout time.Duration
	// ScheduledRebalanceMaxDelay is scheduled.rebalance.max.delay.ms (5 minutes): how long the work
	// of a departed worker waits for it to come back before it is reassigned.
	ScheduledRebalanceMaxDelay time.Duration
	// AdvertisedHost and AdvertisedPort are rest.advertised.host.name and rest.advertised.port;
	// empty and 0 mean the bound listener's.
	AdvertisedHost string
	AdvertisedPort int
}

// ParseDistributedConfig reads a distributed worker's properties. group.id and the three storage
// topics are required, as in Kafka; errors name the key.
func ParseDistributedConfig(props map[string]string) (DistributedConfig, error) {
	wc, err := parseCommonWorkerConfig(props)
	if err != nil {
		return DistributedConfig{}, err
	}
	// NB: Kafka's distributed default flush interval is 60s too; offset.flush.interval.ms applies
	// to the offset topic the same way it applies to the file.
	c := DistributedConfig{WorkerConfig: wc,
		ConfigReplication: 3, OffsetReplication: 3, StatusReplication: 3,
		OffsetPartitions: 25, StatusPartitions: 5,
		SessionTimeout: 10 * time.Second, HeartbeatInterval: 3 * time.Second, RebalanceTimeout: 60 * time.Second,
		ScheduledRebalanceMaxDelay: 5 * time.Minute,
	}
	for _, r := range []struct {
		key string
		dst *string
	}{{"group.id", &c.GroupID}, {"config.storage.topic", &c.ConfigTopic}, {"offset.storage.topic", &c.OffsetTopic}, {"status.storage.topic", &c.StatusTopic}} {
		*r.dst = strings.TrimSpace(props[r.key])
		if *r.dst == "" {
			return c, fmt.Errorf("%w: %s is required in distributed mode", ErrInvalidConfig, r.key)
		}
	}
	if c.ConfigTopic == c.OffsetTopic || c.ConfigTopic == c.StatusTopic || c.OffsetTopic == c.StatusTopic {
		return c, fmt.Errorf("%w: config.storage.topic, offset.storage.topic and status.storage.topic must be three different topics", ErrInvalidConfig)
	}
	for _, r := range []struct {
		key string
		dst *int16
	}{{"config.storage.replication.factor", &c.ConfigReplication}, {"offset.storage.replication.factor", &c.OffsetReplication}, {"status.storage.replication.factor", &c.StatusReplication}} {
		v, ok := props[r.key]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 16)
		if err != nil || (n < 1 && n != -1) {
			return c, fmt.Errorf("%w: %s: %q must be a positive replication factor or -1 (the broker's default)", ErrInvalidConfig, r.key, v)
		}
		*r.dst = int16(n)
	}
	for _, r := range []struct {
		key string
		dst *int32
	}{{"offset.storage.partitions", &c.OffsetPartitions}, {"status.storage.partitions", &c.StatusPartitions}} {
		v, ok := props[r.key]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil || (n < 1 && n != -1) {
			return c, fmt.Errorf("%w: %s: %q must be a positive number of partitions or -1 (the broker's default)", ErrInvalidConfig, r.key, v)
		}
		*r.dst = int32(n)
	}
	for _, d := range []struct {
		key  string
		dst  *time.Duration
		zero bool // whether 0 is allowed
	}{
		{"session.timeout.ms", &c.SessionTimeout, false},
		{"heartbeat.interval.ms", &c.HeartbeatInterval, false},
		{"rebalance.timeout.ms", &c.RebalanceTimeout, false},
		{"scheduled.rebalance.max.delay.ms", &c.ScheduledRebalanceMaxDelay, true},
	} {
		v, ok := props[d.key]
		if !ok {
			continue
		}
		ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || ms < 0 || (ms == 0 && !d.zero) {
			return c, fmt.Errorf("%w: %s: %q is not a valid number of milliseconds", ErrInvalidConfig, d.key, v)
		}
		*d.dst = time.Duration(ms) * time.Millisecond
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		return c, fmt.Errorf("%w: heartbeat.interval.ms (%v) must be lower than session.timeout.ms (%v)", ErrInvalidConfig, c.HeartbeatInterval, c.SessionTimeout)
	}
	c.AdvertisedHost = strings.TrimSpace(props["rest.advertised.host.name"])
	if v := strings.TrimSpace(props["rest.advertised.port"]); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p <= 0 || p > 65535 {
			return c, fmt.Errorf("%w: rest.advertised.port: %q is not a port number", ErrInvalidConfig, v)
		}
		c.AdvertisedPort = p
	}
	return c, nil
}

// advertisedAddr is the host:port other workers reach this one at: rest.advertised.host.name and
// rest.advertised.port, defaulting to the bound listener's.
func (c DistributedConfig) advertisedAddr(bound string) string {
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		return bound
	}
	if c.AdvertisedHost != "" {
		host = c.AdvertisedHost
	} else if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		// NB: as Kafka, a wildcard listener is advertised under the machine's host name.
		if name, err := os.Hostname(); err == nil && name != "" {
			host = name
		}
	}
	if c.AdvertisedPort != 0 {
		port = strconv.Itoa(c.AdvertisedPort)
	}
	return net.JoinHostPort(host, port)
}
