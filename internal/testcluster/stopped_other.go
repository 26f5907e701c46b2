//go:build unix && !linux

package testcluster

// waitStopped cannot observe the process state portably outside Linux; SIGSTOP is queued.
func waitStopped(pid int) error { return nil }
