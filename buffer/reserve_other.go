//go:build !linux

package buffer

import (
	"os"
	"syscall"
)

// fallocate is not available: the buffer reserves no space in advance.
func fallocate(*os.File, int64) error { return syscall.ENOSYS }

// allocated returns the size of the file at path, or 0.
func allocated(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// freeSpace is not known here.
func freeSpace(string) (int64, error) { return 0, syscall.ENOSYS }
