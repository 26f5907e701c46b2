package broker_test

import (
	"testing"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

// BenchmarkSingleNodeStartStop measures what every test that starts a broker pays: starting a
// single node on a fresh dir until it serves, and stopping it.
func BenchmarkSingleNodeStartStop(b *testing.B) {
	for b.Loop() {
		tb := testbroker.Start(b)
		tb.Stop()
	}
}
