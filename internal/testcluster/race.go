//go:build unix && race

package testcluster

// raceEnabled: this test binary runs under the race detector, so the nodes are built with it too.
const raceEnabled = true
