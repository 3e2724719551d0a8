package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/crypto/confsig"
)

// fleetRoot returns the command tree with the fleet commands attached under
// keys and config, unless newRoot already has them.
func fleetRoot() *cobra.Command {
	root := newRoot()
	attach(root, "keys", newKeysOpsCmd())
	attach(root, "config", newConfigSignCmd(), newConfigSignTrustCmd(), newConfigVerifyCmd())
	return root
}

// fleetExecute runs a command line with the fleet commands attached and
// returns its standard output, standard error (with the error appended) and
// exit code.
func fleetExecute(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return executeSplit(fleetRoot(), args...)
}

// fleetConfig writes a valid configuration for gateway id at version and
// returns its path.
func fleetConfig(t *testing.T, dir, id string, version uint64) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("%s-v%d.yaml", id, version))
	yaml := fmt.Sprintf(`version: %d
gateway: {id: %s}
uplink: {broker: "mqtts://broker.example:8883", ca: ca.pem, cert: c.pem, key: c.key}
recipients: {telemetry: telemetry.pub}
devices:
  - {name: air, driver: bme280, interval: 10s, class: telemetry, options: {bus: "sim:i2c-1", addr: 0x76}}
`, version, id)
	must.NoError(t, os.WriteFile(p, []byte(yaml), 0o644))
	return p
}

func TestFleetSignAndVerify(t *testing.T) {
	dir := t.TempDir()
	ops := filepath.Join(dir, "ops")
	if out, errOut, code := fleetExecute(t, "keys", "ops", "--dir", ops); code != 0 || !strings.Contains(out, "key id ") {
		t.Fatalf("keys ops: exit %d, %s %s", code, out, errOut)
	}
	if fi, err := os.Stat(filepath.Join(ops, "ops.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ops.key: %v, %v", fi, err)
	}
	if _, errOut, code := fleetExecute(t, "keys", "ops", "--dir", ops); code != 1 || !strings.Contains(errOut, "ops.key already exists") {
		t.Fatalf("second keys ops: exit %d, %s", code, errOut)
	}
	key, pub := filepath.Join(ops, "ops.key"), filepath.Join(ops, "ops.pub")
	other := filepath.Join(dir, "other")
	if _, errOut, code := fleetExecute(t, "keys", "ops", "--dir", other); code != 0 {
		t.Fatal(errOut)
	}

	// Sign version 7 for gw-001 (default target), to stdout.
	cfg7 := fleetConfig(t, dir, "gw-001", 7)
	doc, errOut, code := fleetExecute(t, "config", "sign", "--key", key, "--version", "7", "--valid-for", "72h", cfg7)
	if code != 0 || !strings.Contains(errOut, "config version 7 for gateway gw-001") || !strings.Contains(errOut, "expires ") {
		t.Fatalf("config sign: exit %d, %s", code, errOut)
	}
	signed := filepath.Join(dir, "config.signed")
	must.NoError(t, os.WriteFile(signed, []byte(doc), 0o644))
	// The same with --out.
	out2 := filepath.Join(dir, "out.signed")
	if _, errOut, code := fleetExecute(t, "config", "sign", "--key", key, "--version", "7", "--gateway", "gw-001", "--out", out2, cfg7); code != 0 {
		t.Fatalf("config sign --out: %s", errOut)
	}
	if b, err := os.ReadFile(out2); err != nil || confsig.Kind(b) != confsig.DocConfig {
		t.Fatalf("--out file: %v", err)
	}

	out, errOut, code := fleetExecute(t, "config", "verify", "--trust", pub, "--gateway", "gw-001", "--running", "6", signed)
	for _, want := range []string{"accepted by gateway gw-001", "signature  ok, ops key", "target     gateway gw-001 includes gw-001",
		"version    7, newer than running 6", "expires ", "config     valid: gateway gw-001, 1 devices, sha256 "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("config verify: exit %d, want %q in\n%s%s", code, want, out, errOut)
		}
	}

	later := time.Now().Add(100 * time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"replay", []string{"--trust", pub, "--gateway", "gw-001", "--running", "7", signed}, 1, "not-newer: version 7 is not newer than running version 7"},
		{"downgrade", []string{"--trust", pub, "--gateway", "gw-001", "--running", "9", signed}, 1, "not-newer"},
		{"other gateway", []string{"--trust", pub, "--gateway", "gw-002", signed}, 1, "not-for-this-gateway"},
		{"untrusted key", []string{"--trust", filepath.Join(other, "ops.pub"), "--gateway", "gw-001", signed}, 1, "untrusted-key"},
		{"expired", []string{"--trust", pub, "--gateway", "gw-001", "--at", later, signed}, 1, "expired"},
		{"no trust", []string{"--gateway", "gw-001", signed}, 2, "--trust is required"},
		{"no gateway", []string{"--trust", pub, signed}, 2, "--gateway is required"},
		{"bad time", []string{"--trust", pub, "--gateway", "gw-001", "--at", "tomorrow", signed}, 2, "--at"},
		{"missing document", []string{"--trust", pub, "--gateway", "gw-001", filepath.Join(dir, "none")}, 1, "none"},
		{"not a document", []string{"--trust", pub, "--gateway", "gw-001", cfg7}, 1, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"config", "verify"}, tt.args...)
			out, errOut, code := fleetExecute(t, args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("edgegw %s: exit %d, stderr %q; want exit %d and %q", strings.Join(args, " "), code, errOut, tt.code, tt.want)
			}
			if code != 0 && strings.Contains(out, "accepted") {
				t.Errorf("rejected but printed %q", out)
			}
		})
	}

	// A flipped byte is a bad signature.
	bad := []byte(doc)
	bad[len(bad)-70] ^= 1
	flipped := filepath.Join(dir, "flipped.signed")
	must.NoError(t, os.WriteFile(flipped, bad, 0o644))
	if _, errOut, code := fleetExecute(t, "config", "verify", "--trust", pub, "--gateway", "gw-001", flipped); code != 1 || !strings.Contains(errOut, "bad-signature") {
		t.Errorf("flipped byte: exit %d, %s", code, errOut)
	}
}

func TestFleetSignRefusals(t *testing.T) {
	dir := t.TempDir()
	ops := filepath.Join(dir, "ops")
	if _, errOut, code := fleetExecute(t, "keys", "ops", "--dir", ops); code != 0 {
		t.Fatal(errOut)
	}
	key := filepath.Join(ops, "ops.key")
	cfg := fleetConfig(t, dir, "gw-001", 7)
	unknown := filepath.Join(dir, "unknown.yaml")
	b, _ := os.ReadFile(cfg)
	must.NoError(t, os.WriteFile(unknown, bytes.Replace(b, []byte("bme280"), []byte("flux-capacitor"), 1), 0o644))
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"version differs", []string{"--key", key, "--version", "8", cfg}, 1, "the configuration says version 7 but --version is 8"},
		{"no key", []string{"--version", "7", cfg}, 2, "--key is required"},
		{"no version", []string{"--key", key, cfg}, 2, "--version is required"},
		{"no file", []string{"--key", key, "--version", "7"}, 2, "accepts 1 arg(s)"},
		{"gateway and group", []string{"--key", key, "--version", "7", "--gateway", "gw-001", "--group", "north", cfg}, 2, "exclusive"},
		{"expires and valid-for", []string{"--key", key, "--version", "7", "--expires", "2030-01-01T00:00:00Z", "--valid-for", "1h", cfg}, 2, "exclusive"},
		{"bad time", []string{"--key", key, "--version", "7", "--not-before", "soon", cfg}, 2, "--not-before"},
		{"window backwards", []string{"--key", key, "--version", "7", "--not-before", "2030-01-02T00:00:00Z", "--expires", "2030-01-01T00:00:00Z", cfg}, 1, "not after not-before"},
		{"target excludes config", []string{"--key", key, "--version", "7", "--gateway", "gw-002", cfg}, 1, `configuration is for gateway "gw-001"`},
		{"unknown driver", []string{"--key", key, "--version", "7", unknown}, 1, "flux-capacitor"},
		{"missing key file", []string{"--key", filepath.Join(dir, "nope.key"), "--version", "7", cfg}, 1, "nope.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"config", "sign"}, tt.args...)
			out, errOut, code := fleetExecute(t, args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) || out != "" && code != 0 && !strings.Contains(out, "Usage") {
				t.Errorf("edgegw %s: exit %d, stdout %q, stderr %q; want exit %d and %q", strings.Join(args, " "), code, out, errOut, tt.code, tt.want)
			}
		})
	}
	must.NoError(t, os.Chmod(key, 0o644))
	if _, errOut, code := fleetExecute(t, "config", "sign", "--key", key, "--version", "7", cfg); code != 1 || !strings.Contains(errOut, "chmod 600") {
		t.Errorf("world-readable key: exit %d, %s", code, errOut)
	}
}

func TestFleetTargetsAndTrustRotation(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"old", "new"} {
		if _, errOut, code := fleetExecute(t, "keys", "ops", "--dir", filepath.Join(dir, d)); code != 0 {
			t.Fatal(errOut)
		}
	}
	oldKey, oldPub := filepath.Join(dir, "old", "ops.key"), filepath.Join(dir, "old", "ops.pub")
	newKey, newPub := filepath.Join(dir, "new", "ops.key"), filepath.Join(dir, "new", "ops.pub")
	cfg := fleetConfig(t, dir, "gw-002", 3)

	// Group and list targets.
	group := filepath.Join(dir, "group.signed")
	if _, errOut, code := fleetExecute(t, "config", "sign", "--key", oldKey, "--version", "3", "--group", "north", "--out", group, cfg); code != 0 {
		t.Fatal(errOut)
	}
	if out, errOut, code := fleetExecute(t, "config", "verify", "--trust", oldPub, "--gateway", "gw-002", "--group", "north", group); code != 0 || !strings.Contains(out, "group north includes gw-002 (group north)") {
		t.Errorf("group verify: exit %d, %s%s", code, out, errOut)
	}
	if _, errOut, code := fleetExecute(t, "config", "verify", "--trust", oldPub, "--gateway", "gw-002", group); code != 1 || !strings.Contains(errOut, "not-for-this-gateway") {
		t.Errorf("group verify without group: exit %d, %s", code, errOut)
	}
	list := filepath.Join(dir, "list.signed")
	if _, errOut, code := fleetExecute(t, "config", "sign", "--key", oldKey, "--version", "3", "--gateway", "gw-003", "--gateway", "gw-002", "--out", list, cfg); code != 0 || !strings.Contains(errOut, "list of 2 gateways (gw-002, gw-003)") {
		t.Fatalf("list sign: %s", errOut)
	}
	if out, errOut, code := fleetExecute(t, "config", "verify", "--trust", oldPub, "--gateway", "gw-002", list); code != 0 {
		t.Errorf("list verify: exit %d, %s%s", code, out, errOut)
	}

	// Rotate: the old key signs a trust set of the new key only.
	rot := filepath.Join(dir, "rotate.signed")
	if _, errOut, code := fleetExecute(t, "config", "sign-trust", "--key", oldKey, "--version", "1", "--pin", newPub, "--group", "north", "--out", rot); code != 0 || !strings.Contains(errOut, "signed trust version 1 for group north") {
		t.Fatalf("sign-trust: exit %d, %s", code, errOut)
	}
	out, errOut, code := fleetExecute(t, "config", "verify", "--trust", oldPub, "--gateway", "gw-002", "--group", "north", rot)
	if code != 0 || !strings.Contains(out, "trust update accepted") || !strings.Contains(out, "+ added") || !strings.Contains(out, "- retired") {
		t.Fatalf("verify trust: exit %d, %s%s", code, out, errOut)
	}
	// After the rotation, configuration comes from the new key.
	cfg4 := fleetConfig(t, dir, "gw-002", 4)
	next := filepath.Join(dir, "next.signed")
	if _, errOut, code := fleetExecute(t, "config", "sign", "--key", newKey, "--version", "4", "--out", next, cfg4); code != 0 {
		t.Fatal(errOut)
	}
	if _, errOut, code := fleetExecute(t, "config", "verify", "--trust", newPub, "--gateway", "gw-002", "--running", "3", next); code != 0 {
		t.Errorf("verify with the rotated trust: exit %d, %s", code, errOut)
	}
	if _, errOut, code := fleetExecute(t, "config", "verify", "--trust", newPub, "--gateway", "gw-002", "--group", "north", rot); code != 1 || !strings.Contains(errOut, "untrusted-key") {
		t.Errorf("trust document signed by an unpinned key: exit %d, %s", code, errOut)
	}
	if _, errOut, code := fleetExecute(t, "config", "verify", "--trust", oldPub, "--gateway", "gw-002", "--group", "north", "--running", "1", rot); code != 1 || !strings.Contains(errOut, "not-newer") {
		t.Errorf("trust replay: exit %d, %s", code, errOut)
	}
	if _, errOut, code := fleetExecute(t, "config", "sign-trust", "--key", oldKey, "--version", "2", "--pin", newPub); code != 2 || !strings.Contains(errOut, "--gateway or --group is required") {
		t.Errorf("sign-trust without target: exit %d, %s", code, errOut)
	}
	if _, errOut, code := fleetExecute(t, "config", "sign-trust", "--key", oldKey, "--version", "2", "--group", "north"); code != 2 || !strings.Contains(errOut, "--pin is required") {
		t.Errorf("sign-trust without pins: exit %d, %s", code, errOut)
	}
}
