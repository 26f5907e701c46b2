//go:build windows

package main

import (
	"os"
	"syscall"
)

// shutdownSignals stop the process cleanly. Go delivers a console's Ctrl-C and Ctrl-Break as
// os.Interrupt, and closing the console window, logging off or shutting down as SIGTERM (with a
// few seconds' grace from Windows before it ends the process).
var shutdownSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}
