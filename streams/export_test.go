package streams

import "time"

// SetRestoreProgressInterval sets how often a's task stores log their restore progress, so that
// a test sees progress lines from a short restore. Call it before Start.
func SetRestoreProgressInterval(a *App, d time.Duration) { a.restoreProgressInterval = d }
