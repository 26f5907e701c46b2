package mirror

import "github.com/gregor-streams/gregor/connect"

type heartbeatLike struct{ config map[string]string }

func (*heartbeatLike) Version() string               { return connect.Version }
func (*heartbeatLike) ConfigDef() *connect.ConfigDef { return configDef() }
func (h *heartbeatLike) Start(_ connect.ConnectorContext, c map[string]string) error {
	h.config = c
	return nil
}
func (h *heartbeatLike) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{h.config}, nil
}
func (*heartbeatLike) Stop() error { return nil }

// MirrorHeartbeatConnector is MirrorMaker 2's MirrorHeartbeatConnector.
type MirrorHeartbeatConnector struct{ heartbeatLike }

// NewTask implements connect.SourceConnector.
func (*MirrorHeartbeatConnector) NewTask() connect.SourceTask { return nil }
