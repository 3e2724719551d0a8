package buffer_test

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/buffer/buffertest"
)

// mountTmpfs mounts a tmpfs of size bytes on a temp dir for the test, or
// skips the test where mounting is not permitted.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// storeBatches begins, fills and seals n batches of 4 × 1 KiB chunks. It
// returns the first error; operations that were accepted but not committed
// (ErrNotCommitted) count as done, as the contract says.
func storeBatches(s buffer.Store, n int) error {
	chunk := bytes.Repeat([]byte{0x55}, 1024)
	var first error
	keep := func(err error) bool {
		if first == nil {
			first = err
		}
		return err == nil || errors.Is(err, buffer.ErrNotCommitted)
	}
	for range n {
		seq, err := s.Begin("telemetry", time.Now(), func(uint64) ([]byte, error) { return []byte("header"), nil })
		if !keep(err) {
			return err
		}
		for range 4 {
			if !keep(s.Append(seq, chunk, 10)) {
				return first
			}
		}
		if !keep(s.Seal(seq, []byte("trailer"))) {
			return first
		}
	}
	return first
}

// TestReserveFullDisk: with its space reserved, the buffer keeps committing
// on a filesystem that another file has filled; without, it holds its
// operations in memory until the space is freed.
func TestReserveFullDisk(t *testing.T) {
	dir := mountTmpfs(t, "8m")
	reserved := openBoltAt(t, filepath.Join(dir, "reserved.db"), buffer.Options{Reserve: 3 << 20})
	bare := openBoltAt(t, filepath.Join(dir, "bare.db"), buffer.Options{})
	free := buffertest.FillDisk(t, dir)

	if err := storeBatches(reserved, 200); err != nil {
		t.Fatalf("800 KiB into a 3 MiB reservation on a full disk: %v", err)
	}
	if st := reserved.Stats(); st.Batches != 200 || st.Pending != 0 {
		t.Errorf("reserved buffer: %d batches, %d operations pending; want 200, 0", st.Batches, st.Pending)
	}
	if err := storeBatches(bare, 200); !errors.Is(err, buffer.ErrNotCommitted) {
		t.Errorf("800 KiB into an unreserved buffer on a full disk: %v, want %v", err, buffer.ErrNotCommitted)
	}
	free()
	if err := bare.Sync(); err != nil {
		t.Fatalf("commit once the space is freed: %v", err)
	}
	if st := bare.Stats(); st.Batches != 200 || st.Pending != 0 || st.CommitErr != nil {
		t.Errorf("unreserved buffer after the space was freed: %+v", st)
	}
}
