package doctor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/gateway/fleet"
	"github.com/edgegw/edgegw/internal/must"
)

// TestConfigSource: the doctor checks the configuration the agent runs,
// says which file that is, and warns when the operator edited the file in
// /etc after fleet operations applied theirs, which keeps running.
func TestConfigSource(t *testing.T) {
	dir := t.TempDir()
	op := filepath.Join(dir, "edgegw.yaml")
	yaml := func(v int, interval string) []byte {
		return fmt.Appendf(nil, `version: %d
gateway: {id: gw-001, state: %s/state}
uplink: {broker: "mqtts://b.example:8883", ca: ca.pem, cert: c.pem, key: c.key}
recipients: {telemetry: t.pub}
fleet: {trust: %[2]s/ops.pub}
devices:
  - {name: aq-1, driver: sim, interval: %s, class: telemetry}
`, v, dir, interval)
	}
	check := func() map[string]Result {
		c := &checker{o: Options{Config: op, Now: time.Now}, ctx: context.Background()}
		c.config()
		m := map[string]Result{}
		for _, r := range c.results {
			m[r.Check] = r
		}
		return m
	}
	must.NoError(t, os.WriteFile(op, yaml(1, "5s"), 0o644))
	if r := check()["config source"]; r.Status != Pass || !strings.Contains(r.Detail, "runs "+op+", the operator's file") {
		t.Errorf("operator's file only: %+v", r)
	}
	if r := check()["fleet files"]; r.Status != Pass || !strings.Contains(r.Detail, filepath.Join(dir, "state", fleet.ConfigDir)) {
		t.Errorf("fleet files: %+v", r)
	}

	applied := filepath.Join(dir, "state", fleet.ConfigDir, fleet.AppliedFile)
	must.NoError(t, os.MkdirAll(filepath.Dir(applied), 0o750))
	must.NoError(t, os.WriteFile(applied, yaml(3, "7s"), 0o640))
	past := time.Now().Add(-time.Hour)
	must.NoError(t, os.Chtimes(op, past, past))
	res := check()
	if r := res["config"]; r.Status != Pass || !strings.Contains(r.Detail, applied+" valid: gateway gw-001, 1 devices, version 3") {
		t.Errorf("config with an applied v3: %+v", r)
	}
	if r := res["config source"]; r.Status != Pass || !strings.Contains(r.Detail, "runs "+applied) || !strings.Contains(r.Detail, "(version 1) is not used") {
		t.Errorf("config source with an applied v3: %+v", r)
	}

	// The operator edits /etc later, without raising the version.
	must.NoError(t, os.WriteFile(op, yaml(1, "9s"), 0o644))
	if r := check()["config source"]; r.Status != Warn || !strings.Contains(r.Detail, op+" was edited after it and is not used") || !strings.Contains(r.Fix, "version: 4") {
		t.Errorf("config source after an edit of %s: %+v", op, r)
	}
	// With a higher version, the operator's file runs.
	must.NoError(t, os.WriteFile(op, yaml(4, "9s"), 0o644))
	if r := check()["config source"]; r.Status != Warn || !strings.Contains(r.Detail, "runs "+op) || !strings.Contains(r.Detail, "(version 3) is not newer") {
		t.Errorf("config source with the operator's v4: %+v", r)
	}
}
