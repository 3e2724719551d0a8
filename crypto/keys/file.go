package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgegw/edgegw/internal/atomicfile"
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

// WriteKeyPair writes dir/keyName (mode 0600) and dir/pubName (mode 0644)
// with what generate returns, creating dir with mode 0700 if needed. It
// refuses to overwrite existing files unless force is set. The private key
// bytes are cleared after writing.
func WriteKeyPair(dir, keyName, pubName string, force bool, generate func() (keyPEM, pubLine []byte, err error)) error {
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
	if err := atomicfile.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	return atomicfile.WriteFile(pubPath, pubLine, 0o644)
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

// NewEd25519PEM generates an Ed25519 key pair and returns the public key and
// the private key as a PEM "PRIVATE KEY" (PKCS#8) block; the caller clears
// the PEM after writing it.
func NewEd25519PEM() (ed25519.PublicKey, []byte, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	defer clear(priv)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	defer clear(der)
	return pub, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// LoadEd25519 reads an Ed25519 private key file (one PEM "PRIVATE KEY"
// PKCS#8 block), refusing a file accessible by group or others.
func LoadEd25519(path string) (ed25519.PrivateKey, error) {
	b, err := readPrivateFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%s: want one PEM \"PRIVATE KEY\" block", path)
	}
	defer clear(blk.Bytes)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: key is %T, want Ed25519", path, k)
	}
	return priv, nil
}

// ReadLines calls add with each line of the public key files at paths, in
// order, trimmed of surrounding space; blank lines and lines starting with
// '#' are skipped. An error of add is returned with the file and line it
// came from.
func ReadLines(paths []string, add func(line string) error) error {
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for n, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if err := add(line); err != nil {
				return fmt.Errorf("%s:%d: %w", path, n+1, err)
			}
		}
	}
	return nil
}
