package backend

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ManifestFile is the name of the signed manifest in an export directory.
const ManifestFile = "manifest.cose"

// envelopeExt is the extension of the envelope files of an export.
const envelopeExt = ".env"

// ExportDir writes a buffer export: one file per envelope, named by its
// sequence number and class so that a listing reads in order, and the
// gateway's signed manifest, written last so that a directory without one is
// visibly incomplete.
type ExportDir struct {
	Path string
	n    int
}

// NewExportDir creates dir/<gateway>-<stamp> (mode 0700) for an export.
func NewExportDir(dir, gateway, stamp string) (*ExportDir, error) {
	path := filepath.Join(dir, gateway+"-"+stamp)
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &ExportDir{Path: path}, nil
}

// Add writes one envelope.
func (e *ExportDir) Add(seq uint64, class string, wire []byte) error {
	name := fmt.Sprintf("%020d.%s%s", seq, class, envelopeExt)
	if err := writeSynced(filepath.Join(e.Path, name), wire); err != nil {
		return fmt.Errorf("export batch %d: %w", seq, err)
	}
	e.n++
	return nil
}

// Finish writes the manifest and returns the number of envelopes written.
func (e *ExportDir) Finish(manifest []byte) (int, error) {
	if err := writeSynced(filepath.Join(e.Path, ManifestFile), manifest); err != nil {
		return e.n, fmt.Errorf("export manifest: %w", err)
	}
	return e.n, nil
}

// writeSynced writes data to path and syncs it: USB sticks get pulled out.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Sync(), f.Close())
}

// exportFiles returns the envelope files and manifests under dir, each list
// sorted.
func exportFiles(dir string) (envelopes, manifests []string, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			return nil
		case d.Name() == ManifestFile:
			manifests = append(manifests, path)
		case strings.HasSuffix(d.Name(), envelopeExt):
			envelopes = append(envelopes, path)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read export %s: %w", dir, err)
	}
	sort.Strings(envelopes)
	sort.Strings(manifests)
	return envelopes, manifests, nil
}
