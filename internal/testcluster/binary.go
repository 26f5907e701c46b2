//go:build unix

package testcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// BinaryEnv names an environment variable holding a prebuilt gregor binary to run instead of
// building one (`make chaos` sets it, so a long run does not depend on the test's build).
const BinaryEnv = "GREGOR_BINARY"

var binary struct {
	once sync.Once
	path string
	err  error
}

// binDirPrefix names the per-process directory the binary is built into.
const binDirPrefix = "gregor-testcluster-"

// Binary returns the path of a gregor binary: $GREGOR_BINARY if set, else one built with
// `go build` from this module (with -race when the test runs with it), once per test process
// (about a second with a warm build cache).
//
// NB: the build goes to os.TempDir()/gregor-testcluster-<pid>, not to a test's TempDir, because
// it is shared by every test of the process and no test outlives the others. Directories left by
// processes that are gone are removed by the next build, so none accumulate.
func Binary() (string, error) {
	binary.once.Do(func() {
		if p := os.Getenv(BinaryEnv); p != "" {
			binary.path = p
			return
		}
		removeStaleBinaries()
		dir := filepath.Join(os.TempDir(), binDirPrefix+strconv.Itoa(os.Getpid()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			binary.err = fmt.Errorf("testcluster: %w", err)
			return
		}
		path := filepath.Join(dir, "gregor")
		args := []string{"build", "-o", path}
		if raceEnabled {
			// NB: with the test's own flags, `go test -race ./...` reuses the packages it
			// compiled for the broker's tests, and a data race in a node shows in its log.
			args = append(args, "-race")
		}
		cmd := exec.Command(goTool(), append(args, "github.com/gregor-streams/gregor/cmd/gregor")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("testcluster: go build ./cmd/gregor: %w\n%s", err, out)
			return
		}
		binary.path = path
	})
	return binary.path, binary.err
}

// goTool is the go command that runs the tests, found like `go test` found it.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

// removeStaleBinaries removes the build directories of test processes that no longer run.
func removeStaleBinaries() {
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		pidText, ok := strings.CutPrefix(e.Name(), binDirPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(filepath.Join(os.TempDir(), e.Name()))
		}
	}
}
