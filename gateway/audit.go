package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/internal/atomicfile"
)

// AuditFile is the local audit trail in the state directory: one JSON
// event a line, appended and synced before the call it records proceeds.
// Past AuditMaxBytes it becomes AuditFile+".1", replacing the one before,
// and a new file starts: the trail keeps the last one to two megabytes of
// events (some 10,000), while every event also reaches the backend.
const AuditFile = "audit.jsonl"

// AuditMaxBytes is the size at which the local trail starts a new file.
const AuditMaxBytes = 1 << 20

// auditLegacyFile is the bbolt trail of earlier versions; its events move
// into AuditFile when the agent first opens the trail.
const auditLegacyFile = "audit.db"

var auditLegacyBucket = []byte("events")

// auditor keeps the audit trail: each event is appended to AuditFile in the
// state directory and stored in the buffer as a signed audit record,
// published on <prefix>/<id>/audit with the buffer's durability.
type auditor struct {
	mu            sync.Mutex
	path          string
	f             *os.File
	size          int64
	store         buffer.Store
	identity      *keys.Identity
	configVersion uint64
	now           func() time.Time
}

var _ control.Auditor = (*auditor)(nil)

// openAuditor opens (or creates, mode 0600) the audit trail in the state
// directory dir, first moving the events of an earlier version's trail
// into it.
func openAuditor(dir string, store buffer.Store, id *keys.Identity, configVersion uint64, now func() time.Time) (*auditor, error) {
	path := filepath.Join(dir, AuditFile)
	if err := importLegacyTrail(filepath.Join(dir, auditLegacyFile), path); err != nil {
		return nil, err
	}
	a := &auditor{path: path, store: store, identity: id, configVersion: configVersion, now: now}
	if err := a.openFile(); err != nil {
		return nil, err
	}
	return a, nil
}

// openFile opens the trail for appending. A last line cut by a power loss
// is ended, so that the next event starts a line of its own; Trail skips
// the cut one.
func (a *auditor) openFile() error {
	f, err := os.OpenFile(a.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open audit trail: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return errors.Join(fmt.Errorf("open audit trail: %w", err), f.Close())
	}
	a.f, a.size = f, fi.Size()
	if a.size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, a.size-1); err != nil {
			return errors.Join(fmt.Errorf("open audit trail: %w", err), f.Close())
		}
		if last[0] != '\n' {
			if err := a.append(nil); err != nil {
				return errors.Join(err, f.Close())
			}
		}
	}
	return nil
}

// append writes line and a newline in one write and syncs the file.
func (a *auditor) append(line []byte) error {
	n, err := a.f.Write(append(line, '\n'))
	a.size += int64(n)
	if err == nil {
		err = unix.Fdatasync(int(a.f.Fd()))
	}
	if err != nil {
		return fmt.Errorf("append to the local trail %s: %w", a.path, err)
	}
	return nil
}

// rotate moves a full trail to AuditFile+".1" and starts a new one.
func (a *auditor) rotate() error {
	if err := a.f.Close(); err != nil {
		return fmt.Errorf("close the full local trail: %w", err)
	}
	if err := os.Rename(a.path, a.path+".1"); err != nil {
		return fmt.Errorf("start a new local trail: %w", err)
	}
	return a.openFile()
}

// importLegacyTrail moves the events of the bbolt trail at legacy, if there
// is one, into a new trail at path (written whole, then renamed), and
// removes legacy.
func importLegacyTrail(legacy, path string) error {
	if _, err := os.Stat(legacy); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return os.Remove(legacy) // moved before a crash cut the removal short
	}
	db, err := bolt.Open(legacy, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("import the audit trail %s: %w", legacy, err)
	}
	var lines []byte
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(auditLegacyBucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			lines = append(append(lines, v...), '\n')
			return nil
		})
	})
	if err = errors.Join(err, db.Close()); err != nil {
		return fmt.Errorf("import the audit trail %s: %w", legacy, err)
	}
	if err := atomicfile.WriteFile(path, lines, 0o600); err != nil {
		return fmt.Errorf("import the audit trail %s: %w", legacy, err)
	}
	return os.Remove(legacy)
}

// Record implements control.Auditor: the event is in the local trail and in
// the buffer, signed, when Record returns nil.
func (a *auditor) Record(e control.Event) error {
	if e.Time.IsZero() {
		e.Time = a.now()
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	a.mu.Lock()
	err = a.append(data)
	if err == nil && a.size >= AuditMaxBytes {
		err = a.rotate()
	}
	a.mu.Unlock()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	_, err = a.store.Put(func(seq uint64) (buffer.Batch, error) {
		header, err := envelope.RecordHeader(a.identity.ID, envelope.AuditClass, seq, a.configVersion, e.Time)
		if err != nil {
			return buffer.Batch{}, err
		}
		chunks := [][]byte{data}
		trailer, err := envelope.Sign(a.identity, header, chunks)
		if err != nil {
			return buffer.Batch{}, err
		}
		return buffer.Batch{Class: buffer.AuditClass, Header: header, Chunks: chunks, Trailer: trailer, Created: e.Time}, nil
	})
	if err != nil {
		return fmt.Errorf("audit: queue the signed record: %w", err)
	}
	return nil
}

// Trail implements control.Auditor: the last limit events (all when limit
// is 0 or less), oldest first, from the trail and the file before it. A
// line cut by a power loss is skipped.
func (a *auditor) Trail(limit int) ([]control.Event, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []control.Event
	for _, path := range []string{a.path, a.path + ".1"} {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("audit: read the local trail: %w", err)
		}
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		for i := len(lines) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
			var e control.Event
			if json.Unmarshal(lines[i], &e) == nil {
				out = append(out, e)
			}
		}
	}
	slices.Reverse(out)
	return out, nil
}

// Close closes the local trail.
func (a *auditor) Close() error { return a.f.Close() }
