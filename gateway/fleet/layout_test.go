package fleet_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/gateway/fleet"
	"github.com/edgegw/edgegw/internal/must"
)

// TestResolve: the applied configuration runs only while its version is
// higher than the operator file's, and one that cannot be used (not
// parsing, another gateway's, another state directory's) is passed over
// with a note; the operator's file must parse.
func TestResolve(t *testing.T) {
	dir := t.TempDir()
	op := filepath.Join(dir, "edgegw.yaml")
	applied := filepath.Join(dir, "state", fleet.ConfigDir, fleet.AppliedFile)
	must.NoError(t, os.MkdirAll(filepath.Dir(applied), 0o750))
	yaml := func(id string, v int, state string) string {
		return fmt.Sprintf("version: %d\ngateway: {id: %s, state: %s}\nuplink: {broker: \"mqtts://b.example:8883\", ca: a, cert: b, key: c}\n", v, id, state)
	}
	state := filepath.Join(dir, "state")
	tests := []struct {
		name, operator, applied string // applied "" for none
		origin                  string
		note                    string
	}{
		{"operator only", yaml("gw-001", 1, state), "", fleet.OriginOperator, ""},
		{"applied newer", yaml("gw-001", 1, state), yaml("gw-001", 4, state), fleet.OriginApplied, op + " (version 1) is not used: the applied version 4 is newer; give the file a version above 4"},
		{"same version, operator edited", yaml("gw-001", 4, state), "# applied\n" + yaml("gw-001", 4, state), fleet.OriginOperator, op + " (version 4) runs: the applied configuration (version 4) is not newer"},
		{"operator newer", yaml("gw-001", 6, state), yaml("gw-001", 4, state), fleet.OriginOperator, "(version 4) is not newer"},
		{"applied does not parse", yaml("gw-001", 1, state), "version: [\n", fleet.OriginOperator, "the applied configuration is not used, it does not parse"},
		{"applied for another gateway", yaml("gw-001", 1, state), yaml("gw-002", 9, state), fleet.OriginOperator, "is for gateway gw-002"},
		{"applied moves the state directory", yaml("gw-001", 1, state), yaml("gw-001", 9, "/elsewhere"), fleet.OriginOperator, "names another state directory (/elsewhere)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			must.NoError(t, os.WriteFile(op, []byte(tt.operator), 0o644))
			os.Remove(applied)
			if tt.applied != "" {
				must.NoError(t, os.WriteFile(applied, []byte(tt.applied), 0o640))
			}
			src, err := fleet.Resolve(op)
			must.NoError(t, err)
			want := tt.operator
			if tt.origin == fleet.OriginApplied {
				want = tt.applied
			}
			if src.Origin != tt.origin || string(src.Data) != want || src.Applied != applied || src.Operator != op ||
				(tt.note == "") != (src.Note == "") || !strings.Contains(src.Note, tt.note) {
				t.Fatalf("Resolve = origin %s, path %s, note %q; want origin %s, note %q", src.Origin, src.Path, src.Note, tt.origin, tt.note)
			}
		})
	}
	must.NoError(t, os.WriteFile(op, []byte("gateway: {id: BAD}\n"), 0o644))
	if _, err := fleet.Resolve(op); err == nil || !strings.Contains(err.Error(), "gateway.id") {
		t.Errorf("Resolve of an invalid operator file: %v", err)
	}
}
