package envelope

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/internal/must"
)

func TestLoadTrust(t *testing.T) {
	a, b, a2 := testIdentity(t, "gw-1", 1).Public(), testIdentity(t, "gw-2", 2).Public(), testIdentity(t, "gw-1", 3).Public()
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		must.NoError(t, os.WriteFile(p, []byte(s), 0o644))
		return p
	}
	p1 := write("fleet.pub", "# fleet\n\n"+a.String()+"\n"+b.String()+"\n")
	p2 := write("gw1.pub", a.String()+"\n")
	tr, err := LoadTrust(p1, p2)
	if err != nil || len(tr) != 2 || !tr["gw-2"].Key.Equal(b.Key) {
		t.Fatalf("LoadTrust = %v, %v", tr, err)
	}
	if _, err := LoadTrust(p1, write("dup.pub", a2.String())); err == nil || !strings.Contains(err.Error(), "different key") {
		t.Errorf("conflicting key: %v", err)
	}
	if _, err := LoadTrust(write("bad.pub", "x\n")); err == nil || !strings.Contains(err.Error(), "bad.pub:1") {
		t.Errorf("bad line: %v", err)
	}
}
