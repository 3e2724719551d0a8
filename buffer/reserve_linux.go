package buffer

import (
	"os"
	"syscall"
)

// fallocate allocates the file's blocks from 0 to size (mode 0: the file
// grows when shorter, data is kept).
func fallocate(f *os.File, size int64) error {
	return syscall.Fallocate(int(f.Fd()), 0, 0, size)
}
