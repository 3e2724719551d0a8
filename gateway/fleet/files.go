package fleet

import (
	"os"

	"github.com/edgegw/edgegw/crypto/keys"
)

// writeAtomic replaces path with data, mode 0600, atomically (temporary
// file, fsync, rename): a power cut leaves the old file or the new one.
func writeAtomic(path string, data []byte) error { return keys.WriteFileAtomic(path, data, 0o600) }

// copyFile replaces dst with the content of src, atomically.
func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return writeAtomic(dst, data)
}
