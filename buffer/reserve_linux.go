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

// allocated returns the bytes of disk the file at path occupies, or 0.
func allocated(path string) int64 {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0
	}
	return st.Blocks * 512
}

// freeSpace returns the bytes an unprivileged writer may still allocate on
// the filesystem holding path.
func freeSpace(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
