package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/confsig"
	"github.com/edgegw/edgegw/internal/must"
)

// TestConfigCommandsAgree: a driver option that `edgegw run` refuses is
// refused by `config validate`, `config sign` and `config verify` too, with
// the same message naming the file's line and the option: the four commands
// share one check (gateway.CheckConfig).
func TestConfigCommandsAgree(t *testing.T) {
	dir := t.TempDir()
	ops := filepath.Join(dir, "ops")
	if _, errOut, code := fleetExecute(t, "keys", "ops", "--dir", ops); code != 0 {
		t.Fatal(errOut)
	}
	key, err := confsig.LoadOpsKey(filepath.Join(ops, "ops.key"))
	must.NoError(t, err)
	const head = `version: 2
gateway: {id: gw-001, keys: %[1]s/keys, state: %[1]s/state}
uplink: {broker: "mqtts://broker.example:8883", ca: ca.pem, cert: c.pem, key: c.key}
recipients: {telemetry: telemetry.pub}
devices:
`
	tests := []struct {
		name   string
		device string
		want   string // the error, after "<file>:6: "
	}{
		{"address for addr", `  - {name: env, driver: bme280, interval: 10s, class: telemetry, options: {bus: /dev/i2c-1, address: 0x76}}`,
			"devices[0].options.address: unknown option (want addr, bus, oversampling, stuck_after, warmup)"},
		{"slave for unit", `  - {name: meter, driver: modbusmeter, interval: 15s, class: telemetry, options: {port: /dev/ttyUSB0, slave: 1, profile: sdm630}}`,
			"devices[0].options.slave: unknown option (want port, baud, parity"},
		{"profile sdm360", `  - {name: meter, driver: modbusmeter, interval: 15s, class: telemetry, options: {port: /dev/ttyUSB0, unit: 1, profile: sdm360}}`,
			`devices[0].options.profile: "sdm360" is neither a shipped profile`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := strings.ReplaceAll(head, "%[1]s", dir) + tt.device + "\n"
			file := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			must.NoError(t, os.WriteFile(file, []byte(yaml), 0o644))
			want := file + ":6: " + tt.want
			check := func(cmd string, code int, stderr string) {
				t.Helper()
				if code != 1 || !strings.Contains(stderr, tt.want) {
					t.Errorf("%s: exit %d, %q; want exit 1 and %q", cmd, code, stderr, tt.want)
				}
			}
			_, errOut, code := fleetExecute(t, "config", "validate", file)
			check("config validate", code, errOut)
			if !strings.Contains(errOut, want) {
				t.Errorf("config validate: %q does not name the line: want %q", errOut, want)
			}
			_, errOut, code = fleetExecute(t, "run", "--config", file)
			check("run", code, errOut)
			if !strings.Contains(errOut, want) {
				t.Errorf("run: %q, want %q", errOut, want)
			}
			out, errOut, code := fleetExecute(t, "config", "sign", "--key", filepath.Join(ops, "ops.key"), "--version", "2", file)
			check("config sign", code, errOut)
			if out != "" {
				t.Errorf("config sign wrote a document: %q", out)
			}
			// A document signed elsewhere (an older edgegw, another tool):
			// the gateway's check refuses it, and so does config verify.
			doc, err := confsig.Sign(key, 2, confsig.ForGateway("gw-001"), time.Time{}, time.Time{}, []byte(yaml))
			must.NoError(t, err)
			signed := file + ".signed"
			must.NoError(t, os.WriteFile(signed, doc, 0o644))
			_, errOut, code = fleetExecute(t, "config", "verify", "--trust", filepath.Join(ops, "ops.pub"), "--gateway", "gw-001", signed)
			check("config verify", code, errOut)
			if !strings.Contains(errOut, "invalid-config: signed config v2:6: "+tt.want) {
				t.Errorf("config verify: %q, want the reason invalid-config and the line", errOut)
			}
		})
	}
}
