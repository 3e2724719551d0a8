package buffertest

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// FillDisk writes a file into dir until its filesystem is full, as logs or
// a technician's copy would, and returns a function that frees the space
// again. The space is also freed when the test ends.
func FillDisk(t testing.TB, dir string) (free func()) {
	t.Helper()
	return FillDiskLeaving(t, dir, 0)
}

// FillDiskLeaving is FillDisk leaving about leave bytes free (to the block).
func FillDiskLeaving(t testing.TB, dir string, leave int64) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	free = func() {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Error(err)
		}
	}
	t.Cleanup(free)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 256<<10)
	var size int64
	for {
		n, err := f.Write(block)
		size += int64(n)
		if err == nil {
			continue
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("fill %s: %v", dir, err)
		}
		if leave > 0 {
			if err := f.Truncate(max(size-leave, 0)); err != nil {
				t.Fatalf("fill %s: leave %d bytes: %v", dir, leave, err)
			}
		}
		return free
	}
}
