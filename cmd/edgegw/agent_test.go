package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/pki"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/proctest"
)

// agentBox is a commissioned gateway in a temp dir whose broker does not
// answer: `edgegw run` on it polls an emulated device and buffers.
type agentBox struct {
	dir string
}

func newAgentBox(t *testing.T) *agentBox {
	t.Helper()
	return &agentBox{dir: commissionDir(t, "gw-001", "gw-001")}
}

// commissionDir returns a temp dir holding what commissioning leaves: a
// CA (ca.pem), a client certificate issued to cn (client.pem, client.key),
// the identity of gateway id (keys/) and a recipient key pair (r/).
func commissionDir(t *testing.T, cn, id string) string {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA("city ca", time.Hour)
	must.NoError(t, err)
	must.NoError(t, pki.WriteFiles(dir, "ca", ca.CertPEM(), nil))
	crt, key, err := ca.Issue(cn, false, nil, time.Hour)
	must.NoError(t, err)
	must.NoError(t, pki.WriteFiles(dir, "client", crt, key))
	must.NoError(t, keys.InitIdentity(filepath.Join(dir, "keys"), id, false))
	must.NoError(t, keys.GenerateRecipient(filepath.Join(dir, "r"), keys.SuiteX25519, false))
	return dir
}

// config writes a configuration named name (name.yaml) with control socket
// name.sock and the given state directory, and returns its path.
func (b *agentBox) config(t *testing.T, name, state string) string {
	t.Helper()
	p := filepath.Join(b.dir, name+".yaml")
	must.NoError(t, os.WriteFile(p, fmt.Appendf(nil, `gateway: {id: gw-001, keys: %[1]s/keys, state: %[2]s}
uplink: {broker: "ssl://127.0.0.1:1", ca: %[1]s/ca.pem, cert: %[1]s/client.pem, key: %[1]s/client.key}
recipients: {telemetry: %[1]s/r/recipient.pub}
buffer: {max_bytes: 1MiB}
control: {socket: %[1]s/%[3]s.sock}
devices:
  - {name: aq-1, driver: sim, model: airquality, interval: 1s, class: telemetry}
`, b.dir, state, name), 0o600))
	return p
}

// agent is an `edgegw run` child process.
type agent struct {
	cmd    *exec.Cmd
	stderr *proctest.SyncBuffer
	done   chan struct{}
	err    error
}

// startAgent starts `edgegw run --config cfg` and returns once it serves
// its control socket (it opened its buffer before), or fails the test.
func startAgent(t *testing.T, cfg, socket string) *agent {
	t.Helper()
	a := &agent{cmd: exec.Command(edgegwBinary(t), "run", "--config", cfg), stderr: &proctest.SyncBuffer{}, done: make(chan struct{})}
	a.cmd.Stderr = a.stderr
	must.NoError(t, a.cmd.Start())
	go func() { a.err = a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.done:
		case <-time.After(10 * time.Second):
			a.cmd.Process.Kill()
			<-a.done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(socket); err == nil {
			return a
		}
		select {
		case <-a.done:
			t.Fatalf("edgegw run --config %s ended: %v\n%s", cfg, a.err, a.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("edgegw run --config %s: no control socket %s after 20s\n%s", cfg, socket, a.stderr)
		}
	}
}

// TestIntegrationDoctorFindsItsOwnAgent: `edgegw doctor` takes as the agent
// only the `edgegw run` of the configuration it checks (by its control
// socket or its config file), not another agent running on the machine.
func TestIntegrationDoctorFindsItsOwnAgent(t *testing.T) {
	b := newAgentBox(t)
	cfgA := b.config(t, "a", filepath.Join(b.dir, "state-a"))
	cfgB := b.config(t, "b", filepath.Join(b.dir, "state-b"))
	a := startAgent(t, cfgA, filepath.Join(b.dir, "a.sock"))
	pid := strconv.Itoa(a.cmd.Process.Pid)

	doctor := func(cfg string) map[string]string {
		stdout, stderr, _ := runBinary(t, "doctor", "--config", cfg, "--json", "--timeout", "2s")
		var res []struct{ Check, Status, Detail string }
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("doctor --config %s --json: %v\n%s%s", cfg, err, stdout, stderr)
		}
		m := map[string]string{}
		for _, r := range res {
			m[r.Check] = r.Status + " " + r.Detail
		}
		return m
	}
	res := doctor(cfgB)
	if got := res["no open port"]; got != "pass the agent is not running (nothing to check)" {
		t.Errorf("doctor of b.yaml while only a.yaml's agent (pid %s) runs: no open port = %q", pid, got)
	}
	if got := res["device aq-1"]; !strings.HasPrefix(got, "pass ") || strings.Contains(got, "running agent") {
		t.Errorf("doctor of b.yaml: device aq-1 = %q, want its own poll", got)
	}
	res = doctor(cfgA)
	if got := res["no open port"]; !strings.Contains(got, "the agent (pid "+pid+") listens on no TCP or UDP port") {
		t.Errorf("doctor of a.yaml: no open port = %q, want agent pid %s", got, pid)
	}
	if got := res["devices"]; !strings.Contains(got, "polled by the running agent (pid "+pid+")") {
		t.Errorf("doctor of a.yaml: devices = %q", got)
	}
}

// TestIntegrationSecondAgentNamesHolder: a second `edgegw run` on the state
// directory of a running one fails, naming the pid that holds it, before it
// touches the first one's files.
func TestIntegrationSecondAgentNamesHolder(t *testing.T) {
	b := newAgentBox(t)
	state := filepath.Join(b.dir, "state")
	first := startAgent(t, b.config(t, "first", state), filepath.Join(b.dir, "first.sock"))
	files := func() map[string]string {
		m := map[string]string{}
		entries, err := os.ReadDir(state)
		must.NoError(t, err)
		for _, e := range entries {
			if data, err := os.ReadFile(filepath.Join(state, e.Name())); err == nil && !strings.HasPrefix(e.Name(), "buffer") {
				m[e.Name()] = string(data)
			}
		}
		return m
	}
	before := files()
	cmd := exec.Command(edgegwBinary(t), "run", "--config", b.config(t, "second", state))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("second agent: %v, want exit 1\n%s", err, stderr.String())
	}
	want := fmt.Sprintf("in use by process %d (edgegw run --config %s)", first.cmd.Process.Pid, filepath.Join(b.dir, "first.yaml"))
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("second agent's error:\n%s\nwant it to contain %q", stderr.String(), want)
	}
	if after := files(); !maps.Equal(before, after) {
		t.Errorf("the second agent changed the first one's state directory:\nbefore %q\nafter  %q", before, after)
	}
	select {
	case <-first.done:
		t.Errorf("the first agent ended: %v\n%s", first.err, first.stderr)
	default:
	}
}
