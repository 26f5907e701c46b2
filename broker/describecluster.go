package broker

import "slices"

// describeClusterControllerID is DescribeCluster's ControllerID: on a KRaft broker the active
// controller its heartbeats reach, when that node is also one of the listed (alive) brokers, so
// `gregor cluster status` and kafka-cluster tools name the node that decides; otherwise (a
// controller-only node, not yet known, or a single node) what Metadata names.
//
// NB: Metadata keeps naming the lowest alive broker: clients send admin requests there and any
// broker forwards them, so its answer need not follow controller elections.
func (b *Broker) describeClusterControllerID(brokers []brokerEndpoint) int32 {
	if st, ok := b.LifecycleState(); ok {
		if slices.ContainsFunc(brokers, func(e brokerEndpoint) bool { return e.nodeID == st.Controller }) {
			return st.Controller
		}
	}
	return controllerIDForClients(brokers)
}
