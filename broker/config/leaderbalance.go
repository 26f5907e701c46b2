package config

// Kafka's preferred-leader balancing settings, read by the controller's auto.leader.rebalance check.
func init() {
	brokerKeys["leader.imbalance.check.interval.seconds"] = intKey("300", func(b *Broker, n int64) {
		b.KRaft.LeaderImbalanceCheckIntervalSeconds = n
	}, 1)
	brokerKeys["leader.imbalance.per.broker.percentage"] = intKey("10", func(b *Broker, n int64) {
		b.KRaft.LeaderImbalancePerBrokerPercentage = int(n)
	}, 0)
}
