package mirror

import "github.com/gregor-streams/gregor/connect"

// MirrorCheckpointConnector is MirrorMaker 2's MirrorCheckpointConnector.
type MirrorCheckpointConnector struct{ heartbeatLike }

// NewTask implements connect.SourceConnector.
func (*MirrorCheckpointConnector) NewTask() connect.SourceTask { return nil }
