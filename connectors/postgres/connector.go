package postgres

import (
	"maps"

	"github.com/gregor-streams/gregor/connect"
)

func init() {
	connect.Register(connect.Plugin{Class: SourceClass, Aliases: []string{"PostgresCdcSource"}, Type: connect.PluginSource,
		Version: connect.Version, New: func() connect.Connector { return &SourceConnector{} }})
}

// SourceConnector is PostgresCdcSource (Debezium's io.debezium.connector.postgresql.PostgresConnector).
type SourceConnector struct{ config map[string]string }

// Version implements connect.Connector.
func (*SourceConnector) Version() string { return connect.Version }

// ConfigDef implements connect.Connector.
func (*SourceConnector) ConfigDef() *connect.ConfigDef { return sourceConfigDef() }

// Start implements connect.Connector.
func (c *SourceConnector) Start(_ connect.ConnectorContext, config map[string]string) error {
	if _, err := parseConfig(config); err != nil {
		return err
	}
	c.config = config
	return nil
}

// TaskConfigs implements connect.Connector: always one task, since one slot is one ordered stream.
func (c *SourceConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.config)}, nil
}

// Stop implements connect.Connector.
func (*SourceConnector) Stop() error { return nil }

// NewTask implements connect.SourceConnector.
func (*SourceConnector) NewTask() connect.SourceTask { return &SourceTask{} }
