package streams

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/gregor-streams/gregor/internal/dirlock"
)

// lockStateDir takes the lock of <StateDir>/<ApplicationID> (its .lock file) before any store
// or global table opens there. Without a StateDir there is nothing to protect.
func (a *App) lockStateDir() error {
	if a.cfg.StateDir == "" {
		return nil
	}
	dir := filepath.Join(a.cfg.StateDir, a.cfg.ApplicationID)
	l, err := dirlock.Acquire(dir)
	if errors.Is(err, dirlock.ErrLocked) {
		return fmt.Errorf("%w: application.id %q: %w", ErrStateDirLocked, a.cfg.ApplicationID, err)
	}
	if err != nil {
		return fmt.Errorf("streams: state directory: %w", err)
	}
	a.stateLock = l
	return nil
}
