// Package proctest runs edgegw as tests run it: the binary built once, as
// a child process whose output is kept in a file and shown when the test
// fails; and it measures the processor time of processes, for benchmarks.
package proctest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Edgegw builds the edgegw binary once per test process and returns its
// path; it fails t when the build fails.
func Edgegw(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "edgegw-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "edgegw")
		if out, err := exec.Command("go", "build", "-o", binPath, "github.com/edgegw/edgegw/cmd/edgegw").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// ChildLog creates the file at path for the output of the processes a test
// starts. It is closed when the test ends, after the cleanups registered
// later, and when the test failed its last max bytes (all of it when max is
// 0) are logged under the title what.
func ChildLog(t testing.TB, path, what string, max int) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if t.Failed() {
			out, _ := os.ReadFile(path)
			if max > 0 && len(out) > max {
				out = out[len(out)-max:]
			}
			t.Logf("%s:\n%s", what, out)
		}
	})
	return f
}

// Start starts cmd with its standard error, and its standard output unless
// it has one, written to log (see ChildLog). The process is killed when the
// test ends unless the test waited for it; register log first, so that it
// is closed after.
func Start(t testing.TB, cmd *exec.Cmd, log *os.File) {
	t.Helper()
	if cmd.Stdout == nil {
		cmd.Stdout = log
	}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
}

// SyncBuffer is a buffer a child process writes (as its Stdout or Stderr)
// while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
