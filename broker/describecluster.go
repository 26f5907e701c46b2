package broker

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// appendFencedBrokers adds, for a v2+ request with IncludeFencedBrokers (KIP-1073), the registered
// brokers of the metadata image that are fenced, marked IsFenced, with their endpoint on this node's
// first client listener (as aliveBrokers lists the others).
func (b *Broker) appendFencedBrokers(r *kmsg.DescribeClusterRequest, resp *kmsg.DescribeClusterResponse) {
	img := b.MetadataImage()
	if r.Version < 2 || !r.IncludeFencedBrokers || img == nil {
		return
	}
	listener := b.clientListeners()[0].Name
	for _, br := range img.Brokers() {
		if !br.Fenced || br.ID == b.cfg.NodeID {
			continue // NB: aliveBrokers lists this node whatever the image says
		}
		out := kmsg.NewDescribeClusterResponseBroker()
		out.NodeID, out.Rack, out.IsFenced = br.ID, br.Rack, true
		if ep, ok := br.EndPoint(listener); ok {
			out.Host, out.Port = ep.Host, int32(ep.Port)
		}
		resp.Brokers = append(resp.Brokers, out)
	}
	slices.SortFunc(resp.Brokers, func(x, y kmsg.DescribeClusterResponseBroker) int { return int(x.NodeID - y.NodeID) })
}
