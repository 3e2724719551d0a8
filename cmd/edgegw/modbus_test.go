//go:build !custom || drivers.modbusmeter

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/proctest"
)

// runModbus runs `edgegw modbus args...` and returns stdout and the exit
// code main would use.
func runModbus(t *testing.T, args ...string) (string, int) {
	t.Helper()
	c := newModbusCmd()
	c.SilenceUsage, c.SilenceErrors = true, true
	var out, errOut bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&errOut)
	c.SetArgs(args)
	err := c.Execute()
	if err != nil {
		t.Logf("error: %v", err)
	}
	return out.String(), exitCode(err)
}

func TestModbusCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		short    bool // runs without the emulator
		wantCode int
		want     []string
	}{
		{"profiles", []string{"profiles"}, true, 0, []string{"sdm630", "sdm120", "pm5300", "mfm383a", "Selec", "(shipped)"}},
		{"profiles one", []string{"profiles", "sdm630"}, true, 0, []string{"0x0046", "Hz", "counter", "verified:"}},
		{"profiles unknown", []string{"profiles", "nope"}, true, 2, nil},
		{"read no port", []string{"read", "--profile", "sdm630"}, true, 2, nil},
		{"read bad unit", []string{"read", "--sim", "--unit", "0", "--profile", "sdm630"}, true, 2, nil},
		{"read both modes", []string{"read", "--sim", "--profile", "sdm630", "--register", "0"}, true, 2, nil},
		{"read bad type", []string{"read", "--sim", "--register", "0", "--type", "float16"}, true, 2, nil},
		{"scan bad units", []string{"scan", "--sim", "--units", "0-300"}, true, 2, nil},
		{"read profile", []string{"read", "--sim", "--unit", "1", "--profile", "sdm630"}, false, 0, []string{"CHANNEL", "v1", "Hz", "kWh", "5 requests"}},
		{"read raw frequency", []string{"read", "--sim", "--unit", "2", "--register", "0x0046", "--type", "float32"}, false, 0, []string{"0x0046", "FLOAT32 ABCD", "0x0046  424"}},
		{"read dead unit", []string{"read", "--sim", "--unit", "9", "--profile", "sdm120", "--timeout", "50ms"}, false, 1, nil},
		{"scan", []string{"scan", "--sim", "--units", "1-4", "--bauds", "9600,19200", "--parity", "N", "--timeout", "50ms", "--profile", "sdm630"},
			false, 0, []string{"9600 8N1", "ABCD (f=", "data"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.short && testing.Short() {
				t.Skip("runs the emulator")
			}
			out, code := runModbus(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.name == "scan" && (strings.Contains(out, "19200") || strings.Count(out, "9600 8N1") != 3) {
				t.Errorf("scan should find units 1-3 at 9600 8N1 only:\n%s", out)
			}
		})
	}
}

func TestModbusReadJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the emulator")
	}
	out, code := runModbus(t, "read", "--sim", "--unit", "3", "--profile", "mfm383a", "--json")
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	var rows []struct {
		Channel string
		Value   float64
		Unit    string
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(rows) != 30 {
		t.Errorf("%d rows, want 30", len(rows))
	}
	for _, r := range rows {
		if r.Channel == "v1" && (r.Value < 220 || r.Value > 240 || r.Unit != "V") {
			t.Errorf("v1 = %+v", r)
		}
	}
}

// TestIntegrationModbusMissingPort: `modbus read` and `modbus scan` on a
// port that does not exist say so, with what to check, instead of probing
// every setting and reporting that no unit answered.
func TestIntegrationModbusMissingPort(t *testing.T) {
	const port = "/dev/ttyUSB97"
	if _, err := os.Stat(port); err == nil {
		t.Skipf("%s exists here", port)
	}
	for _, args := range [][]string{
		{"modbus", "scan", "--port", port},
		{"modbus", "read", "--port", port, "--profile", "sdm630"},
		{"modbus", "read", "--port", port, "--register", "0"},
	} {
		stdout, stderr, code := runBinary(t, args...)
		if code != 1 || !strings.Contains(stderr, "serial port "+port+" does not exist: check the adapter is plugged in") ||
			strings.Contains(stdout+stderr, "no unit answered") || strings.Contains(stderr, "[1/") {
			t.Errorf("edgegw %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
		}
	}
}

// TestIntegrationModbusScanInterrupted: a scan shows the time it has left
// as it goes, and Ctrl-C prints the units found so far before it exits.
func TestIntegrationModbusScanInterrupted(t *testing.T) {
	cmd := exec.Command(edgegwBinary(t), "modbus", "scan", "--sim", "--units", "1-247", "--bauds", "9600", "--parity", "N", "--timeout", "50ms")
	var stdout, stderr proctest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	must.NoError(t, cmd.Start())
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	eta := regexp.MustCompile(`\[\d+/247\] found 3, (\d+m)?\d+s left`)
	for end := time.Now().Add(30 * time.Second); !eta.MatchString(stderr.String()); {
		if time.Now().After(end) {
			t.Fatalf("no progress with 3 units found and the time left within 30s:\n%s", stderr.String())
		}
		select {
		case <-exited:
			t.Fatalf("scan ended before the interrupt: %v\n%s", waitErr, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	must.NoError(t, cmd.Process.Signal(os.Interrupt))
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("scan still running 10s after the interrupt")
	}
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit: %v, want status 1", waitErr)
	}
	out := stdout.String()
	for _, unit := range []string{"\n1 ", "\n2 ", "\n3 "} {
		if !strings.Contains(out, unit) {
			t.Errorf("units found so far not printed (no row %q):\n%s", strings.TrimSpace(unit), out)
		}
	}
	if !strings.Contains(stderr.String(), "scan interrupted after") || !strings.Contains(stderr.String(), "3 units found") {
		t.Errorf("stderr: %s", stderr.String())
	}
}
