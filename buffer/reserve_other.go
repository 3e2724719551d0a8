//go:build !linux

package buffer

import (
	"os"
	"syscall"
)

// fallocate is not available: the buffer reserves no space in advance.
func fallocate(*os.File, int64) error { return syscall.ENOSYS }
