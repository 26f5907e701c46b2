//go:build unix && !race

package testcluster

// raceEnabled: this test binary runs without the race detector.
const raceEnabled = false
