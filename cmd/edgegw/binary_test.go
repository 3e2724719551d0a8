package main

import (
	"bytes"
	"errors"
	"os/exec"
	"testing"

	"github.com/edgegw/edgegw/internal/proctest"
)

// edgegwBinary builds the edgegw binary once per test process, for tests
// that run commands as a user does. It skips under -short.
func edgegwBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	return proctest.Edgegw(t)
}

// runBinary runs the edgegw binary with args to its end and returns its
// standard output, standard error and exit code.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(edgegwBinary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("edgegw %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}
