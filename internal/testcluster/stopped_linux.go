package testcluster

import (
	"bytes"
	"fmt"
	"os"
	"time"
)

// waitStopped returns once the kernel reports pid stopped (state T in /proc/<pid>/stat), so that a
// Pause has taken effect when it returns: kill(2) only queues SIGSTOP.
func waitStopped(pid int) error {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// NB: the state follows the command name, which is in parentheses and may hold spaces.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't') {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d not stopped 5s after SIGSTOP", pid)
		}
		time.Sleep(time.Millisecond)
	}
}
