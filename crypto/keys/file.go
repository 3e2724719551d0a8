package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CheckPrivateFileMode returns an error if the file at path is not a regular
// file or is accessible by group or others. The error names the file and its
// mode and suggests "chmod 600".
func CheckPrivateFileMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("private key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("private key file %s: not a regular file (mode %s)", path, fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("private key file %s: mode %#o is accessible by group or others: chmod 600 %s", path, perm, path)
	}
	return nil
}

// readPrivateFile checks the mode of path and reads it.
func readPrivateFile(path string) ([]byte, error) {
	if err := CheckPrivateFileMode(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	return b, nil
}

// ensureDir creates dir with mode 0700 if it does not exist.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	return nil
}

// writeKeyPair writes dir/keyName (mode 0600) and dir/pubName (mode 0644)
// with what generate returns, creating dir with mode 0700 if needed. It
// refuses to overwrite existing files unless force is set. The private key
// bytes are cleared after writing.
func writeKeyPair(dir, keyName, pubName string, force bool, generate func() (keyPEM, pubLine []byte, err error)) error {
	keyPath := filepath.Join(dir, keyName)
	pubPath := filepath.Join(dir, pubName)
	if !force {
		if err := refuseExisting(keyPath, pubPath); err != nil {
			return err
		}
	}
	if err := ensureDir(dir); err != nil {
		return err
	}
	keyPEM, pubLine, err := generate()
	if err != nil {
		return err
	}
	defer clear(keyPEM)
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(pubPath, pubLine, 0o644)
}

// refuseExisting returns an error naming the first of paths that exists.
func refuseExisting(paths ...string) error {
	for _, p := range paths {
		_, err := os.Lstat(p)
		if err == nil {
			return fmt.Errorf("%s already exists (use force to overwrite)", p)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("check %s: %w", p, err)
		}
	}
	return nil
}

// writeFileAtomic writes data to path with mode perm through a temporary file
// in the same directory, fsync and rename, so a crash leaves either the old or
// the new file.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
