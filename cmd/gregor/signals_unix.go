//go:build !windows

package main

import (
	"os"
	"syscall"
)

// shutdownSignals stop the process cleanly: Ctrl-C in a terminal, SIGTERM from a service
// manager or container runtime.
var shutdownSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}
