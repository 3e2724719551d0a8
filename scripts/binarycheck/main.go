// Command binarycheck fails when git tracks an executable binary (an ELF
// file, such as a build of edgegw or a test binary): build outputs belong
// in dist/, which is ignored, not in the repository. `make check` runs it
// from the repository root:
//
//	go run ./scripts/binarycheck
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

func main() {
	found, err := Tracked(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "binarycheck:", err)
		os.Exit(1)
	}
	for _, f := range found {
		fmt.Fprintf(os.Stderr, "binarycheck: %s is an executable binary tracked by git: git rm --cached %s (builds go to dist/)\n", f, f)
	}
	if len(found) > 0 {
		os.Exit(1)
	}
}

// Tracked returns the files git tracks in the work tree at dir that are
// ELF executables or objects, relative to dir.
func Tracked(dir string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files in %s: %w", dir, err)
	}
	var found []string
	for name := range bytes.SplitSeq(bytes.TrimSuffix(out, []byte{0}), []byte{0}) {
		if len(name) == 0 {
			continue
		}
		isELF, err := elf(filepath.Join(dir, string(name)))
		if err != nil {
			return nil, err
		}
		if isELF {
			found = append(found, string(name))
		}
	}
	return found, nil
}

// elf reports whether the file at path starts with the ELF magic number. A
// tracked file deleted from the work tree is not one.
func elf(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return false, nil // shorter than a magic number
	}
	return magic == [4]byte{0x7f, 'E', 'L', 'F'}, nil
}
