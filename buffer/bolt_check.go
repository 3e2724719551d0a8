package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
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
// Every page is read in this goroutine first, with panics and memory faults
// turned into errors, before bbolt's own Tx.Check runs (in a goroutine of
// its own, where a panic could not be recovered). A marker file exists while
// the check runs: if the process dies during a check, the next open finds
// the marker and treats the file as corrupt, so a bad file cannot cause a
// crash loop.
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
		// the file has been moved aside.
		os.Remove(marker)
	}
	if err != nil {
		os.Remove(marker)
	}
	return db, corrupt, err
}

func openAndCheck(path string) (db *bolt.DB, corrupt, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			corrupt = fmt.Errorf("panic: %v", r)
			if db != nil {
				closeQuietly(db)
			}
			db, err = nil, nil
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) || errors.Is(err, fs.ErrPermission) {
			return nil, nil, err
		}
		return nil, err, nil
	}
	var errs []error
	err = db.View(func(tx *bolt.Tx) error {
		if err := walk(tx); err != nil {
			errs = append(errs, err)
			return nil
		}
		for e := range tx.Check() {
			if len(errs) < 5 {
				errs = append(errs, e)
			}
		}
		return nil
	})
	if err == nil && len(errs) == 0 {
		return db, nil, nil
	}
	closeQuietly(db)
	joined := errors.Join(append(errs, err)...)
	if errors.Is(joined, errNewerSchema) {
		return nil, nil, joined
	}
	return nil, joined, nil
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
		if _, err := decodeGap(v); err != nil {
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
