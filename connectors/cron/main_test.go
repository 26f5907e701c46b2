package cron_test

import (
	"os"
	"testing"

	"github.com/gregor-streams/gregor/internal/testpg"
)

// TestMain stops the package's shared Postgres after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	testpg.StopShared()
	os.Exit(code)
}
