package buffer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// reserveBlock is how many sequence numbers one write of the sidecar
// reserves.
const reserveBlock = 10000

// reservation is the content of the <path>.seq sidecar file. Sequence
// numbers below to may have been used; Begin never assigns a number at or
// above to before a new reservation is written. from is the number that
// started the current block, and low the smallest number that was still
// stored, queued or part of an unreported gap when the block was reserved:
// if the buffer file is lost, the numbers from low to to-1 are reported as a
// gap.
type reservation struct {
	low, from, to uint64
}

func readReservation(path string) (reservation, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return reservation{}, err
	}
	var r reservation
	var v int
	if _, err := fmt.Sscanf(string(b), "edgegw-seq %d %d %d %d\n", &v, &r.low, &r.from, &r.to); err != nil {
		return reservation{}, fmt.Errorf("parse %s: %w", path, err)
	}
	if v != 1 || r.low > r.from || r.from > r.to {
		return reservation{}, fmt.Errorf("parse %s: %w", path, errDecode)
	}
	return r, nil
}

// writeReservation replaces the sidecar atomically: temporary file, fsync,
// rename, fsync of the directory. When the filesystem is full, it overwrites
// the existing sidecar in place instead, which needs no new block: every
// line has the same length (zero-padded numbers) and fits in one sector,
// which disks write whole.
func writeReservation(path string, r reservation) error {
	line := fmt.Appendf(nil, "edgegw-seq 1 %020d %020d %020d\n", r.low, r.from, r.to)
	err := replaceFile(path, line)
	if errors.Is(err, syscall.ENOSPC) {
		if inPlace := overwriteFile(path, line); inPlace == nil {
			return nil
		}
	}
	return err
}

// replaceFile writes data to a temporary file and renames it to path.
func replaceFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// overwriteFile writes data over the start of the existing file at path and
// syncs it.
func overwriteFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
