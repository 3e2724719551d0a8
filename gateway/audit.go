package gateway

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/gateway/control"
)

// AuditFile is the name of the local audit trail in the state directory.
const AuditFile = "audit.db"

var auditBucket = []byte("events")

// auditor keeps the audit trail: each event is appended to a bbolt file in
// the state directory (committed before the call it records may proceed) and
// stored in the buffer as a signed audit record, published on
// <prefix>/<id>/audit with the buffer's durability.
type auditor struct {
	db            *bolt.DB
	store         buffer.Store
	identity      *keys.Identity
	configVersion uint64
	now           func() time.Time
}

var _ control.Auditor = (*auditor)(nil)

// openAuditor opens (or creates, mode 0600) the audit trail at path.
func openAuditor(path string, store buffer.Store, id *keys.Identity, configVersion uint64, now func() time.Time) (*auditor, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open audit trail %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(auditBucket)
		return err
	}); err != nil {
		return nil, errors.Join(fmt.Errorf("open audit trail %s: %w", path, err), db.Close())
	}
	return &auditor{db: db, store: store, identity: id, configVersion: configVersion, now: now}, nil
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
	if err := a.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(auditBucket)
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(nil, n), data)
	}); err != nil {
		return fmt.Errorf("audit: append to the local trail: %w", err)
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

// Trail implements control.Auditor.
func (a *auditor) Trail(limit int) ([]control.Event, error) {
	var out []control.Event
	err := a.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(auditBucket).Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var e control.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: read the local trail: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// Close closes the local trail.
func (a *auditor) Close() error { return a.db.Close() }
