package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bolt is a Store kept in a bbolt file, with group commit. Create it with
// OpenBolt. Its methods are safe for concurrent use.
type Bolt struct {
	path      string
	opts      Options
	log       *slog.Logger
	db        *bolt.DB
	recovered string

	stop chan struct{} // closed by Close to stop the committer
	wake chan struct{} // signals the committer that operations are pending
	done chan struct{} // closed when the committer has returned

	mu      sync.Mutex
	closed  bool
	pending []op
	open    map[uint64]*openBatch // batches not sealed, committed or not
	next    uint64                // sequence number the next Begin assigns
	res     reservation           // last reservation written to the sidecar
	// Committed state, refreshed by every successful commit.
	st        state
	gap       Gap
	oldestSeq uint64
	oldest    time.Time
	commitErr error // cause of the current failure streak; nil when healthy
	broken    error // ErrCorrupt after a panic in bbolt; the store is unusable
}

// openBatch is what Append and Seal need to know about an open batch.
type openBatch struct {
	chunks uint32 // chunks appended, committed or not
	sealed bool   // Seal was accepted but is not committed yet
}

var _ Store = (*Bolt)(nil)

// OpenBolt opens or creates the buffer file at path, with mode 0600, and the
// sequence reservation sidecar path+".seq". The directory must exist.
//
// A file that cannot be opened or fails its integrity check is renamed to
// path+".corrupt-<UTC time>" and replaced by a fresh file, whose numbering
// continues above the old reservation, with a pending gap reporting the
// numbers that may have been lost; Recovered describes what happened. OpenBolt
// returns an error only when the file is locked by another process, not
// readable, written by a newer release, or cannot be created.
func OpenBolt(path string, opts Options) (*Bolt, error) {
	b := &Bolt{
		path: path,
		opts: opts,
		log:  opts.logger(),
		open: map[uint64]*openBatch{},
		stop: make(chan struct{}),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	res, err := readReservation(b.seqPath())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.log.Error("buffer sequence reservation unreadable", "err", err)
		res = reservation{}
	}
	lost := ""
	if _, err := os.Stat(path); err == nil {
		db, corrupt, err := openChecked(path)
		if err != nil {
			return nil, fmt.Errorf("open buffer %s: %w", path, err)
		}
		if corrupt != nil {
			if err := b.moveAside(corrupt); err != nil {
				return nil, err
			}
			lost = ReasonCorruptBuffer
		}
		b.db = db
	} else if res.to > 1 {
		lost = ReasonMissingBuffer
		b.recovered = fmt.Sprintf("buffer file missing, sequence numbers %d to %d reported as a gap", max(res.low, 1), res.to-1)
		b.log.Error("buffer file missing, numbers reserved by the sidecar reported as a gap")
	}
	if b.db == nil {
		if b.db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout}); err != nil {
			return nil, fmt.Errorf("open buffer %s: %w", path, err)
		}
	}
	if err := b.load(res, lost); err != nil {
		closeQuietly(b.db)
		return nil, fmt.Errorf("open buffer %s: %w", path, err)
	}
	// Reserve the first block of numbers now, so that a full disk later
	// finds a sidecar it can overwrite in place. Begin retries on failure.
	if err := b.reserveLocked(b.next); err != nil {
		b.log.Warn("buffer sequence numbers not reserved yet", "err", err)
	}
	if err := reserveSpace(path, opts.Reserve); err != nil {
		b.log.Warn("buffer disk space not reserved; a full disk will hold commits in memory", "err", err)
	}
	if opts.Durability > 0 {
		go b.run()
	} else {
		close(b.done)
	}
	return b, nil
}

// Recovered describes how OpenBolt recovered from a corrupt or missing
// buffer file, for health reports; it is empty when the file opened cleanly.
func (b *Bolt) Recovered() string { return b.recovered }

func (b *Bolt) seqPath() string { return b.path + ".seq" }

// moveAside renames the corrupt file out of the way.
func (b *Bolt) moveAside(cause error) error {
	aside := b.path + ".corrupt-" + b.opts.now().UTC().Format("20060102T150405Z")
	for i := 1; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, fs.ErrNotExist) {
			break
		}
		aside = b.path + ".corrupt-" + b.opts.now().UTC().Format("20060102T150405Z") + "." + strconv.Itoa(i)
	}
	if err := os.Rename(b.path, aside); err != nil {
		return fmt.Errorf("move corrupt buffer aside: %w", err)
	}
	os.Remove(b.path + checkingSuffix)
	b.pruneAside()
	b.recovered = fmt.Sprintf("corrupt buffer file moved to %s: %v", aside, cause)
	b.log.Error("buffer file corrupt, moved aside and replaced", "err", fmt.Errorf("%s: %w", aside, cause))
	return nil
}

// keepAside is how many moved-aside corrupt files are kept for analysis;
// older ones are deleted so that repeated damage cannot fill the disk.
const keepAside = 2

// pruneAside deletes all but the newest keepAside corrupt files. Their
// names sort by the time they were moved aside.
func (b *Bolt) pruneAside() {
	aside, err := filepath.Glob(b.path + ".corrupt-*")
	if err != nil || len(aside) <= keepAside {
		return
	}
	sort.Strings(aside)
	for _, old := range aside[:len(aside)-keepAside] {
		if err := os.Remove(old); err != nil {
			b.log.Warn("old corrupt buffer file not deleted", "err", err)
		} else {
			b.log.Info("old corrupt buffer file deleted", "file", old)
		}
	}
}

// load initializes a new file, or reads the state of an existing one, and
// the open batches.
func (b *Bolt) load(res reservation, lost string) error {
	return b.update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketBatches, bucketChunks} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if meta.Get(keyVersion) == nil {
			if err := b.initFile(meta, res, lost); err != nil {
				return err
			}
		}
		x, err := newTxn(tx, b.log)
		if err != nil {
			return err
		}
		b.st, b.gap, b.next = x.st, x.gap, x.st.next
		if b.oldestSeq, b.oldest, err = x.oldest(); err != nil {
			return err
		}
		b.res = res
		if res.to < b.next {
			b.res = reservation{low: b.next, from: b.next, to: b.next}
		}
		return x.batches.ForEach(func(k, v []byte) error {
			r, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("read batch %d: %w", seqFromKey(k), err)
			}
			if !r.closed() {
				b.open[seqFromKey(k)] = &openBatch{chunks: r.chunks}
			}
			return nil
		})
	})
}

// initFile writes the version and first state of a new file. When a file
// was lost, numbering continues at the reservation, and the numbers from the
// reservation's low-water mark up to it become a pending gap. Without a
// reservation, the Unix time in seconds is used as the first number, far
// above anything a gateway publishing less than a batch per second since 1970
// can have used, and the gap starts at 1.
func (b *Bolt) initFile(meta *bolt.Bucket, res reservation, lost string) error {
	st := state{next: 1}
	var gap Gap
	if lost != "" {
		if res.to > 1 {
			st.next = res.to
			addRange(&gap, max(res.low, 1), res.to-1, lost)
		} else {
			st.next = max(uint64(b.opts.now().Unix()), 2)
			addRange(&gap, 1, st.next-1, lost)
			b.log.Error("buffer sequence reservation missing, numbering restarts from the clock")
		}
		if err := meta.Put(keyGap, encodeGap(gap)); err != nil {
			return err
		}
	}
	if err := meta.Put(keyVersion, seqKey(schemaVersion)); err != nil {
		return err
	}
	return meta.Put(keyState, st.encode())
}
