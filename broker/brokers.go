package broker

import "slices"

// brokerEndpoint is one broker as Metadata and DescribeCluster list it.
type brokerEndpoint struct {
	nodeID int32
	host   string
	port   int32
	rack   *string
}

// aliveBrokers returns the brokers clients are told of, sorted by node ID: the unfenced brokers of
// the metadata image, each with its endpoint on this node's first client listener (NB: Kafka answers with the endpoint of the listener the request
// came in on; Gregor's brokers serve every client listener alike, so the first stands for all), and
// itself while it is not in the image yet, so a client always has a broker to talk to.
func (b *Broker) aliveBrokers() []brokerEndpoint {
	self := brokerEndpoint{nodeID: b.cfg.NodeID, host: b.advHost, port: b.advPort}
	if b.cfg.Rack != "" {
		self.rack = &b.cfg.Rack
	}
	img := b.MetadataImage()
	if img == nil {
		return []brokerEndpoint{self}
	}
	listener := b.clientListeners()[0].Name
	var out []brokerEndpoint
	for _, br := range img.Brokers() {
		if br.Fenced && br.ID != b.cfg.NodeID {
			continue
		}
		ep, ok := br.EndPoint(listener)
		if !ok {
			continue
		}
		out = append(out, brokerEndpoint{nodeID: br.ID, host: ep.Host, port: int32(ep.Port), rack: br.Rack})
	}
	if !slices.ContainsFunc(out, func(e brokerEndpoint) bool { return e.nodeID == b.cfg.NodeID }) {
		out = append(out, self)
	}
	slices.SortFunc(out, func(x, y brokerEndpoint) int { return int(x.nodeID) - int(y.nodeID) })
	return out
}

// controllerIDForClients is the ControllerID of Metadata and DescribeCluster. KRaft controllers are
// not reachable by clients, so Kafka names an alive broker instead; Gregor names the lowest one, so
// the answer is stable.
func controllerIDForClients(brokers []brokerEndpoint) int32 { return brokers[0].nodeID }
