package buffer

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// reserveSpace makes sure the filesystem has allocated the first size bytes
// of the file at path, extending it when shorter. bbolt writes inside the
// file's current size without allocating, so a filesystem filled by
// something else (logs, a technician's copy) cannot stop commits until the
// buffer outgrows its reservation. Filesystems without fallocate are left
// alone.
func reserveSpace(path string, size int64) error {
	if size <= 0 {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	err = fallocate(f, size)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reserve %d bytes for %s (file has %d): %w", size, path, fi.Size(), err)
	}
	return nil
}
