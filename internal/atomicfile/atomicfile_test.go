package atomicfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/internal/atomicfile"
	"github.com/edgegw/edgegw/internal/must"
)

// TestWriteFile: the file is replaced with the new content and mode, and
// no temporary file is left; a write that cannot happen names the file,
// leaves what was there as it was and leaves nothing behind.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	must.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	must.NoError(t, atomicfile.WriteFile(path, []byte("new"), 0o600))
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "new" {
		t.Fatalf("after WriteFile: %q, %v; want \"new\"", got, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	assertOnly(t, dir, "state.json")

	// A directory stands where the file should be: the rename fails.
	blocked := filepath.Join(dir, "blocked")
	must.NoError(t, os.Mkdir(blocked, 0o700))
	err = atomicfile.WriteFile(blocked, []byte("new"), 0o600)
	if err == nil || !strings.HasPrefix(err.Error(), "write "+blocked+": ") {
		t.Errorf("WriteFile over a directory = %v, want an error naming %s", err, blocked)
	}
	if fi, err := os.Stat(blocked); err != nil || !fi.IsDir() {
		t.Errorf("the directory was replaced: %v, %v", fi, err)
	}
	assertOnly(t, dir, "blocked", "state.json")

	if err := atomicfile.WriteFile(filepath.Join(dir, "missing", "f"), nil, 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile into a missing directory = %v, want fs.ErrNotExist", err)
	}
}

// assertOnly fails t unless dir holds exactly names, in order.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must.NoError(t, err)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
}
