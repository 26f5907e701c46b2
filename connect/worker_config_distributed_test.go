package connect

import (
	"strings"
	"testing"
	"time"
)

func distProps(extra ...string) map[string]string {
	p := map[string]string{"group.id": "g", "config.storage.topic": "c", "offset.storage.topic": "o", "status.storage.topic": "s"}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return p
}

func TestDistributedConfigHasKafkasDefaults(t *testing.T) {
	c, err := ParseDistributedConfig(distProps())
	if err != nil {
		t.Fatal(err)
	}
	if c.ConfigReplication != 3 || c.OffsetReplication != 3 || c.StatusReplication != 3 || c.OffsetPartitions != 25 || c.StatusPartitions != 5 {
		t.Errorf("topic defaults %+v", c)
	}
	if c.SessionTimeout != 10*time.Second || c.HeartbeatInterval != 3*time.Second || c.RebalanceTimeout != time.Minute || c.ScheduledRebalanceMaxDelay != 5*time.Minute {
		t.Errorf("group defaults %+v", c)
	}
	if c.OffsetStorageFile != "" {
		t.Error("a distributed worker needs no offset file")
	}
}

func TestDistributedConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"config.storage.topic": "c", "offset.storage.topic": "o", "status.storage.topic": "s"}, "group.id is required"},
		{distProps("status.storage.topic", ""), "status.storage.topic is required"},
		{distProps("offset.storage.topic", "c"), "three different topics"},
		{distProps("offset.storage.replication.factor", "0"), "offset.storage.replication.factor"},
		{distProps("status.storage.partitions", "x"), "status.storage.partitions"},
		{distProps("session.timeout.ms", "-5"), "session.timeout.ms"},
		{distProps("heartbeat.interval.ms", "20000"), "heartbeat.interval.ms"},
		{distProps("rest.advertised.port", "99999"), "rest.advertised.port"},
	} {
		_, err := ParseDistributedConfig(tc.props)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one naming %q", tc.props, err, tc.want)
		}
	}
	c, err := ParseDistributedConfig(distProps("config.storage.replication.factor", "-1", "scheduled.rebalance.max.delay.ms", "0"))
	if err != nil || c.ConfigReplication != -1 || c.ScheduledRebalanceMaxDelay != 0 {
		t.Errorf("-1 (broker default) and a zero delay must be accepted: %+v %v", c, err)
	}
}

func TestDistributedWorkerAdvertisesTheConfiguredHostAndPort(t *testing.T) {
	c, _ := ParseDistributedConfig(distProps("rest.advertised.host.name", "w1.example", "rest.advertised.port", "9083"))
	if got := c.advertisedAddr("127.0.0.1:8083"); got != "w1.example:9083" {
		t.Errorf("advertised %s", got)
	}
	c, _ = ParseDistributedConfig(distProps())
	if got := c.advertisedAddr("127.0.0.1:8083"); got != "127.0.0.1:8083" {
		t.Errorf("advertised %s, want the bound address", got)
	}
	if got := c.advertisedAddr("0.0.0.0:8083"); strings.HasPrefix(got, "0.0.0.0") {
		t.Errorf("a wildcard listener advertised as %s", got)
	}
}
