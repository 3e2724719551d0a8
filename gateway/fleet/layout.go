package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/edgegw/edgegw/gateway/config"
	"github.com/edgegw/edgegw/internal/atomicfile"
)

// The files fleet operations write live in the state directory
// (gateway.state, /var/lib/edgegw by default), the one place the service may
// write: the operator's file (`edgegw run --config`, /etc/edgegw/edgegw.yaml)
// stays the operator's and is never written. Under <state>/ConfigDir:
const (
	// ConfigDir is the directory, mode 0750, of the files below.
	ConfigDir = "config"
	// AppliedFile is the configuration a push or `edgegw config apply`
	// applied, byte for byte as it was signed or given, mode 0640.
	AppliedFile = "applied.yaml"
	// LastGoodFile is the last configuration that ran committed, the one a
	// failed probation rolls back to, mode 0640.
	LastGoodFile = "last-good.yaml"
	// TrustFile is the set of ops keys pinned by the last rotation
	// document, mode 0640; it replaces fleet.trust from then on.
	TrustFile = "trust.pub"
)

// fileMode is the mode of the files above: readable by the edgegw group,
// whose technicians read what the box runs.
const fileMode fs.FileMode = 0o640

// Origins of a running configuration (Source.Origin).
const (
	// OriginOperator: the operator's file given to `edgegw run --config`.
	OriginOperator = "operator"
	// OriginApplied: AppliedFile, from a push or `edgegw config apply`.
	OriginApplied = "applied"
)

// Source is the configuration a gateway runs, and where it comes from.
//
// Precedence: the applied configuration runs when its version is higher
// than the operator file's; otherwise the operator's file runs. So a push or
// apply (whose version must be newer than the running one) wins over the
// file in /etc, and an operator who edits /etc later takes over again by
// giving the file a version above the applied one; an edit without that is
// not used, and `edgegw status` and `edgegw doctor` say so. Either file is
// read when the agent starts (a restart picks up an edit).
type Source struct {
	// Operator is the operator's file and OperatorVersion its version.
	Operator        string
	OperatorVersion uint64
	// Applied is the path of the applied configuration, whether it exists
	// or not.
	Applied string
	// Origin is OriginOperator or OriginApplied; Path, Data and Config are
	// the file that runs, its bytes and its parsed form (not yet checked
	// against the drivers: see gateway.CheckConfig).
	Origin string
	Path   string
	Data   []byte
	Config *config.Config
	// Note says why a file that exists is not the one running; empty when
	// there is nothing to say.
	Note string
}

// Dir returns the directory of the fleet files of a gateway whose
// configuration is cfg.
func Dir(cfg *config.Config) string { return filepath.Join(cfg.Gateway.State, ConfigDir) }

// Resolve reads the operator's file at path and the applied configuration in
// the state directory it names, and returns the one that runs (see Source).
// An error is the operator file's: it must parse, since it names the state
// directory. An applied configuration that cannot be used (unreadable, not
// parsing, for another gateway or state directory) is passed over with a
// Note.
func Resolve(path string) (*Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	op, err := config.Parse(path, data)
	if err != nil {
		return nil, err
	}
	s := &Source{Operator: path, OperatorVersion: op.Version, Applied: filepath.Join(Dir(op), AppliedFile),
		Origin: OriginOperator, Path: path, Data: data, Config: op}
	adata, err := os.ReadFile(s.Applied)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		s.Note = fmt.Sprintf("the applied configuration is not used: %v", err)
		return s, nil
	}
	ap, err := config.Parse(s.Applied, adata)
	switch {
	case err != nil:
		s.Note = fmt.Sprintf("the applied configuration is not used, it does not parse: %v", err)
	case ap.Gateway.ID != op.Gateway.ID:
		s.Note = fmt.Sprintf("the applied configuration %s is for gateway %s, %s is for %s: %s runs", s.Applied, ap.Gateway.ID, path, op.Gateway.ID, path)
	case filepath.Clean(ap.Gateway.State) != filepath.Clean(op.Gateway.State):
		s.Note = fmt.Sprintf("the applied configuration %s names another state directory (%s): %s runs", s.Applied, ap.Gateway.State, path)
	case ap.Version > op.Version:
		s.Origin, s.Path, s.Data, s.Config = OriginApplied, s.Applied, adata, ap
		s.Note = fmt.Sprintf("%s (version %d) is not used: the applied version %d is newer; give the file a version above %d to run it", path, op.Version, ap.Version, ap.Version)
	case !bytes.Equal(adata, data):
		s.Note = fmt.Sprintf("%s (version %d) runs: the applied configuration (version %d) is not newer", path, op.Version, ap.Version)
	}
	return s, nil
}

// writeAtomic replaces path with data, mode 0600, atomically (temporary
// file, fsync, rename): a power cut leaves the old file or the new one.
func writeAtomic(path string, data []byte) error { return atomicfile.WriteFile(path, data, 0o600) }

// writeFile replaces path with data atomically (temporary file, fsync,
// rename), mode 0640, creating its directory (0750) if needed.
func writeFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, fileMode)
}
