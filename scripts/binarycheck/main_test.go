package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgegw/edgegw/internal/must"
)

// TestRepositoryTracksNoBinary: the repository itself tracks no build
// output.
func TestRepositoryTracksNoBinary(t *testing.T) {
	found, err := Tracked("../..")
	must.NoError(t, err)
	if len(found) > 0 {
		t.Errorf("tracked executable binaries: %v", found)
	}
}

// TestTrackedELFFound: in a repository that tracks an ELF file (this test's
// own binary) among text files, that file and only it is reported.
func TestTrackedELFFound(t *testing.T) {
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	self, err := os.Executable()
	must.NoError(t, err)
	bin, err := os.ReadFile(self)
	must.NoError(t, err)
	for name, data := range map[string][]byte{"edgegw": bin, "README.md": []byte("# x\n"), "short": []byte("\x7fE"), "sub/x.go": []byte("package x\n")} {
		must.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		must.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	git("init", "-q")
	git("add", ".")
	found, err := Tracked(dir)
	must.NoError(t, err)
	if !slices.Equal(found, []string{"edgegw"}) {
		t.Errorf("Tracked = %v, want [edgegw]", found)
	}
}
