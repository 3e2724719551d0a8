package buffer

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// openLocked opens the bbolt file at path. When another process holds its
// lock past lockTimeout, the error wraps ErrLocked and names that process.
func openLocked(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		if pid, cmd := LockHolder(path); pid != 0 {
			return nil, fmt.Errorf("in use by process %d (%s): %w", pid, cmd, ErrLocked)
		}
		return nil, fmt.Errorf("in use by another process: %w", ErrLocked)
	}
	return db, err
}
