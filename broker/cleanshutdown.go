package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// cleanShutdownFile is Kafka's clean-shutdown marker in the metadata log dir (KIP-966): written last
// by a clean stop with the broker epoch the controller had registered, read and removed at start. With
// it the restarted broker names its previous epoch when it registers (PreviousBrokerEpoch), so the
// controller replaces the old registration at once instead of refusing the new incarnation with
// DUPLICATE_BROKER_REGISTRATION until the old one's session expires (broker.session.timeout.ms).
const cleanShutdownFile = ".kafka_cleanshutdown"

type cleanShutdown struct {
	Version     int   `json:"version"`
	BrokerEpoch int64 `json:"brokerEpoch"`
}

func (b *Broker) cleanShutdownPath() string {
	return filepath.Join(b.cfg.MetadataDir(), cleanShutdownFile)
}

// takePreviousBrokerEpoch reads and removes the clean-shutdown marker; 0 without one (an unclean
// stop, or a first start).
func (b *Broker) takePreviousBrokerEpoch() int64 {
	data, err := os.ReadFile(b.cleanShutdownPath())
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			b.logger.Warn("reading the clean-shutdown marker failed", "file", b.cleanShutdownPath(), "err", err)
		}
		return 0
	}
	if err := os.Remove(b.cleanShutdownPath()); err != nil {
		b.logger.Warn("removing the clean-shutdown marker failed", "file", b.cleanShutdownPath(), "err", err)
		return 0 // NB: a marker that stays could name a stale epoch after a later crash
	}
	var m cleanShutdown
	if err := json.Unmarshal(data, &m); err != nil || m.BrokerEpoch < 0 {
		b.logger.Warn("ignoring a malformed clean-shutdown marker", "file", b.cleanShutdownPath(), "err", err)
		return 0
	}
	return m.BrokerEpoch
}

// writeCleanShutdown records the broker epoch of a clean stop (nothing if the broker never registered).
func (b *Broker) writeCleanShutdown() error {
	st, ok := b.LifecycleState()
	if !ok || st.BrokerEpoch <= 0 {
		return nil
	}
	data, err := json.Marshal(cleanShutdown{BrokerEpoch: st.BrokerEpoch})
	if err != nil {
		return err
	}
	if err := os.WriteFile(b.cleanShutdownPath(), data, 0o644); err != nil {
		return fmt.Errorf("write the clean-shutdown marker: %w", err)
	}
	return nil
}
