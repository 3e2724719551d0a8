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
	path string
	opts Options
	log  *slog.Logger

	stop chan struct{} // closed by Close to stop the committer
	wake chan struct{} // signals the committer that operations are pending
	done chan struct{} // closed when the committer has returned

	// dbMu is held for reading around every use of db, and for writing
	// while the file is replaced. Lock order: mu, then dbMu.
	dbMu sync.RWMutex
	db   *bolt.DB // nil while a damaged file could not be replaced yet
	gen  uint64   // incremented each time the file is replaced

	vmu      sync.Mutex
	verified map[uint64]struct{} // closed batches that passed Options.Verify

	mu        sync.Mutex
	opened    bool // OpenBolt has returned: OnCommit may be called
	closed    bool
	recovered string
	pending   []op
	open      map[uint64]*openBatch // batches not sealed, committed or not
	held      int64                 // bytes of the open batches kept in memory
	next      uint64                // sequence number the next Begin assigns
	res       reservation           // last reservation written to the sidecar
	carried   []Gap                 // gaps carried by the sidecar, not committed yet
	tx        uint64                // the file's last committed bbolt transaction
	memGaps   []Gap                 // gaps of batches dropped in memory, not committed yet
	space     space                 // the file's disk space
	// Committed state, refreshed by every successful commit.
	st        state
	gaps      []Gap
	stored    seqSet // sequence numbers of the batches in the file
	oldestSeq uint64
	oldest    time.Time
	commitErr error        // cause of the current failure streak; nil when healthy
	broken    error        // damage found and the file not replaced yet
	reopen    *pendingOpen // a replacement OpenBolt decided, not done yet
}

// openBatch is what the store keeps in memory of a batch that is not
// sealed and committed: enough to write it again into a fresh file when
// the file turns out damaged, or to report it exactly when it is dropped.
type openBatch struct {
	class    string
	created  time.Time
	header   []byte
	chunks   [][]byte
	counts   []int // readings of each chunk
	readings int64
	trailer  []byte // set by Seal until the seal is committed
	inFile   bool   // its Begin is committed
	bytes    int64
}

var _ Store = (*Bolt)(nil)

// OpenBolt opens or creates the buffer file at path, with mode 0600, and the
// sequence reservation sidecar path+".seq". The directory must exist.
//
// A file that cannot be opened or fails its integrity check is replaced by
// a fresh file holding what could be salvaged from it; the damaged file is
// kept as path+".corrupt-<UTC time>". Recovered describes what happened.
// OpenBolt returns an error only when the file is locked by another process,
// not readable, written by a newer release, or cannot be created; when a
// damaged file cannot be replaced yet (no room for a fresh one), the store
// opens without a file and retries at each commit.
func OpenBolt(path string, opts Options) (*Bolt, error) {
	b := &Bolt{
		path:     path,
		opts:     opts,
		log:      opts.logger(),
		open:     map[uint64]*openBatch{},
		verified: map[uint64]struct{}{},
		stop:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		space:    space{target: opts.Reserve},
	}
	res, carried, lastHeld, err := readSidecar(b.seqPath())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.log.Error("buffer sequence reservation unreadable", "err", err)
		res, carried, lastHeld = reservation{}, nil, held{}
	}
	b.res, b.carried = res, carried
	sound := false
	if _, err := os.Stat(path); err == nil {
		db, corrupt, err := openChecked(path)
		if err != nil {
			return nil, fmt.Errorf("open buffer %s: %w", path, err)
		}
		b.db, sound = db, corrupt == nil
		if corrupt != nil {
			b.replaceAtOpen(corrupt, lastHeld)
		}
	} else if res.to > 1 {
		b.replaceAtOpen(nil, lastHeld)
	}
	if b.db == nil && b.reopen == nil {
		if b.db, err = openLocked(path); err != nil {
			return nil, fmt.Errorf("open buffer %s: %w", path, err)
		}
		if err := b.initFile(b.db, 1, nil); err != nil {
			closeQuietly(b.db)
			return nil, fmt.Errorf("open buffer %s: %w", path, err)
		}
	}
	if b.db != nil {
		if err := b.load(); err != nil {
			closeQuietly(b.db)
			return nil, fmt.Errorf("open buffer %s: %w", path, err)
		}
		if sound && lastHeld.tx == b.tx {
			b.takeHeld(lastHeld)
		}
		b.applyCarried()
		b.space.grow(b.path, b.opts.Reserve, b.opts.now(), b.log)
	}
	// Reserve the first block of numbers now, so that a full disk later
	// finds a sidecar it can overwrite in place. Begin retries on failure.
	if err := b.reserveLocked(b.next, b.next); err != nil {
		b.log.Warn("buffer sequence numbers not reserved yet", "err", err)
	}
	b.opened = true
	if opts.Durability > 0 {
		go b.run()
	} else {
		close(b.done)
	}
	return b, nil
}

// Recovered describes how the store recovered from a damaged or missing
// buffer file, for health reports; it is empty when the file was sound.
func (b *Bolt) Recovered() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.recovered
}

func (b *Bolt) seqPath() string { return b.path + ".seq" }

// keepAside is how many moved-aside corrupt files are kept for analysis;
// older ones are deleted so that repeated damage cannot fill the disk.
const keepAside = 2

// asideName returns a free name for the damaged file.
func (b *Bolt) asideName() string {
	stamp := b.opts.now().UTC().Format("20060102T150405Z")
	aside := b.path + ".corrupt-" + stamp
	for i := 1; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, fs.ErrNotExist) {
			return aside
		}
		aside = b.path + ".corrupt-" + stamp + "." + strconv.Itoa(i)
	}
}

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

// initFile writes the buckets, the version and the first state of a new
// file: numbering from next, with gaps pending.
func (b *Bolt) initFile(db *bolt.DB, next uint64, gaps []Gap) error {
	return db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketBatches, bucketChunks} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if meta.Get(keyVersion) != nil {
			return nil
		}
		if err := meta.Put(keyVersion, seqKey(schemaVersion)); err != nil {
			return err
		}
		if len(gaps) > 0 {
			if err := meta.Put(keyGap, encodeGaps(gaps)); err != nil {
				return err
			}
		}
		return meta.Put(keyState, (&state{next: next}).encode())
	})
}

// load reads the committed state of the file into memory, with the open
// batches (their chunks too, to rebuild them if the file is replaced).
func (b *Bolt) load() error {
	return b.viewDB(func(x *txn) error {
		b.st, b.gaps, b.next, b.tx = x.st, x.gaps, x.st.next, x.id
		var err error
		if b.oldestSeq, b.oldest, err = x.oldest(); err != nil {
			return err
		}
		if b.res.to < b.next {
			b.res = reservation{low: b.next, from: b.next, to: b.next}
		}
		b.stored = seqSet{}
		b.open, b.held = map[uint64]*openBatch{}, 0
		return x.batches.ForEach(func(k, v []byte) error {
			seq := seqFromKey(k)
			b.stored.add(seq, seq)
			r, err := decodeRecord(v)
			if err != nil || r.closed() {
				return nil // a damaged record is dropped when Next or Unsealed reads it
			}
			bt, err := x.batch(k, v)
			if err != nil {
				return nil
			}
			ob := &openBatch{class: bt.Class, created: bt.Created, header: bt.Header, chunks: bt.Chunks, readings: r.readings, inFile: true}
			ob.counts = make([]int, len(bt.Chunks))
			if len(ob.counts) > 0 {
				ob.counts[0] = int(r.readings) // per chunk unknown: the total counts once
			}
			ob.bytes = r.bytes
			b.open[seq] = ob
			b.held += ob.bytes
			return nil
		})
	})
}

// viewDB runs fn in a read transaction of b.db, during OpenBolt.
func (b *Bolt) viewDB(fn func(x *txn) error) error {
	return guard(func() error {
		return b.db.View(func(tx *bolt.Tx) error {
			x, err := newTxn(tx, b.log)
			if err != nil {
				return err
			}
			return fn(x)
		})
	})
}

// takeHeld carries the gaps of the batches that the last process held in
// memory while its commits failed, when it died before committing them or
// carrying them at Close. The caller has found that none of their
// operations reached the file after: it is still at the transaction the
// sidecar names, or that process had no file.
func (b *Bolt) takeHeld(h held) {
	if len(h.gaps) == 0 {
		return
	}
	b.log.Warn("buffer batches held in memory by a process that stopped before committing them are reported as a gap",
		"err", fmt.Errorf("%s, commits failing since transaction %d", describeGaps(h.gaps), h.tx))
	b.carried = append(b.carried, h.gaps...)
}

// applyCarried commits the gaps the sidecar carried (batches dropped from
// memory when the last process could not commit them), deletes what of
// those batches had reached the file, and clears them from the sidecar.
// Their numbers were used: numbering goes on above them.
func (b *Bolt) applyCarried() {
	if len(b.carried) == 0 {
		return
	}
	for _, g := range b.carried {
		b.next = max(b.next, g.ToSeq+1)
	}
	for seq := range b.open {
		for _, g := range b.carried {
			if seq >= g.FromSeq && seq <= g.ToSeq {
				b.pending = append(b.pending, op{kind: opDrop, seq: seq})
				break
			}
		}
	}
	b.memGaps = append(b.memGaps, b.carried...)
	b.carried = nil
	b.log.Warn("buffer gaps carried by the sequence sidecar reported", "err", fmt.Errorf("%d gaps", len(b.memGaps)))
	if err := b.commitLocked(nil); err != nil {
		b.log.Warn("buffer gaps carried by the sequence sidecar not committed yet", "err", err)
	}
}
