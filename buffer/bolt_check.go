package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket and key names of the bbolt file.
var (
	bucketMeta    = []byte("meta")
	bucketBatches = []byte("batches")
	bucketChunks  = []byte("chunks")
	keyVersion    = []byte("version")
	keyState      = []byte("state")
	keyGap        = []byte("gap")
)

// errNewerSchema is returned when the file was written by a newer release.
var errNewerSchema = errors.New("buffer file has a newer schema version")

// checkingSuffix names the marker file that exists while the file is
// checked, and that marks a file found damaged while in use.
const checkingSuffix = ".checking"

// lockTimeout bounds the wait for the file lock held by another process.
const lockTimeout = time.Second

// openChecked opens an existing buffer file and checks it completely. It
// returns corrupt, with db nil, when the file is damaged, and err when it
// cannot be opened for another reason (locked by another process, no
// permission), in which case moving it aside would be wrong.
//
// The file's structure is checked first without bbolt (rawCheck), with
// ordinary reads that cannot panic or fault; then bbolt opens it and every
// record is read and decoded, with panics and memory faults turned into
// errors. A marker file exists while the check runs: if the process dies
// during a check, the next open finds the marker and treats the file as
// corrupt, so a bad file cannot cause a crash loop.
func openChecked(path string) (db *bolt.DB, corrupt, err error) {
	marker := path + checkingSuffix
	if _, err := os.Stat(marker); err == nil {
		return nil, errors.New("marked damaged: a previous integrity check did not finish, or bbolt failed on the file"), nil
	}
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		return nil, nil, err
	}
	db, corrupt, err = openAndCheck(path)
	if err == nil && corrupt == nil {
		// Keep the marker when the file is corrupt: it is removed once
		// the file has been replaced.
		os.Remove(marker)
	}
	if err != nil {
		os.Remove(marker)
	}
	return db, corrupt, err
}

func openAndCheck(path string) (db *bolt.DB, corrupt, err error) {
	if err := rawCheck(path); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, nil, err
		}
		return nil, err, nil
	}
	err = guard(func() error {
		var oerr error
		db, oerr = openLocked(path)
		if oerr != nil {
			return oerr
		}
		return db.View(walk)
	})
	switch {
	case err == nil:
		return db, nil, nil
	case errors.Is(err, ErrLocked) || errors.Is(err, fs.ErrPermission):
		return nil, nil, err
	}
	if db != nil {
		closeQuietly(db)
	}
	if errors.Is(err, errNewerSchema) {
		return nil, nil, err
	}
	return nil, err, nil
}

// walk reads every key and value of the file and decodes the buffer's own
// records, so that damaged pages show up here rather than later.
func walk(tx *bolt.Tx) error {
	var visit func(b *bolt.Bucket) error
	visit = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				if nb := b.Bucket(k); nb != nil {
					return visit(nb)
				}
			}
			return nil
		})
	}
	if err := tx.ForEach(func(name []byte, b *bolt.Bucket) error { return visit(b) }); err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return nil
	}
	if v := meta.Get(keyVersion); v != nil {
		d := decoder{b: v}
		if n := d.uint64(); d.err() != nil {
			return fmt.Errorf("meta version: %w", errDecode)
		} else if n > schemaVersion {
			return fmt.Errorf("%w %d", errNewerSchema, n)
		}
	}
	if v := meta.Get(keyState); v != nil {
		if _, err := decodeState(v); err != nil {
			return fmt.Errorf("meta state: %w", err)
		}
	}
	if v := meta.Get(keyGap); v != nil {
		if _, err := decodeGaps(v); err != nil {
			return fmt.Errorf("meta gap: %w", err)
		}
	}
	batches, chunks := tx.Bucket(bucketBatches), tx.Bucket(bucketChunks)
	if batches == nil {
		return nil
	}
	return batches.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("batch key %x: %w", k, errDecode)
		}
		r, err := decodeRecord(v)
		if err != nil {
			return fmt.Errorf("batch %x: %w", k, err)
		}
		seq := seqFromKey(k)
		for i := range r.chunks {
			if chunks == nil || chunks.Get(chunkKey(seq, i)) == nil {
				return fmt.Errorf("batch %d: chunk %d missing", seq, i)
			}
		}
		return nil
	})
}

func closeQuietly(db *bolt.DB) {
	defer func() { _ = recover() }()
	_ = db.Close()
}
