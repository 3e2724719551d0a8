package buffer

import (
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// needLocked is the disk space the next commit may take beyond the pages
// bbolt has free: twice what it adds, and commitOverhead.
func (b *Bolt) needLocked() int64 {
	var n int64
	for i := range b.pending {
		n += int64(len(b.pending[i].data))
	}
	return 2*n + commitOverhead
}

// roomLocked returns the bytes the file can still take without new disk
// blocks (allocated space beyond its high-water mark, and its free pages),
// and its high-water mark in bytes.
func (b *Bolt) roomLocked() (room, hwm int64, ok bool) {
	b.dbMu.RLock()
	defer b.dbMu.RUnlock()
	if b.db == nil {
		return 0, 0, false
	}
	if err := guard(func() error {
		return b.db.View(func(tx *bolt.Tx) error { hwm = tx.Size(); return nil })
	}); err != nil {
		return 0, 0, false
	}
	st := b.db.Stats()
	free := int64(st.FreePageN+st.PendingPageN) * int64(b.db.Info().PageSize)
	return b.space.alloc - hwm + free, hwm, true
}

// makeRoomLocked keeps the next commit within the file's allocated space
// when a reservation is configured: it allocates more while the filesystem
// has room, and otherwise drops the oldest batches (ReasonDiskFull), so
// that a full disk costs the oldest readings, reported, rather than
// commits.
func (b *Bolt) makeRoomLocked() {
	if b.space.target <= 0 || b.space.unsupported {
		return
	}
	need := b.needLocked()
	room, hwm, ok := b.roomLocked()
	if !ok || room >= need {
		return
	}
	b.space.grow(b.path, max(b.space.target, hwm+need+1<<20), b.opts.now(), b.log)
	if room, _, ok = b.roomLocked(); ok && room < need {
		b.relieveLocked(2 * (need - room))
	}
}

// errNothingToDrop ends a relief transaction that found nothing to drop.
var errNothingToDrop = errors.New("nothing to drop")

// relieveLocked commits, on its own, the drop of the oldest closed batches
// holding at least amount bytes, as ReasonDiskFull: the pages they free can
// be used by the next commit. It reports whether anything was dropped.
func (b *Bolt) relieveLocked(amount int64) bool {
	var (
		x         *txn
		oldestSeq uint64
		oldest    time.Time
	)
	err := b.update(func(t *txn) error {
		x = t
		l := limit{bytes: max(x.st.bytes-amount, 1), reason: ReasonDiskFull}
		if err := x.enforce(l, b.opts.now()); err != nil {
			return err
		}
		if len(x.removed) == 0 {
			return errNothingToDrop
		}
		var err error
		oldestSeq, oldest, err = x.oldest()
		return err
	})
	if err != nil {
		if !errors.Is(err, errNothingToDrop) {
			b.log.Warn("buffer could not drop batches to make room", "err", err)
		}
		return false
	}
	before := b.st.droppedBatches
	b.committedLocked(x, oldestSeq, oldest)
	b.log.Warn("buffer dropped the oldest batches: no disk space left for new ones",
		"err", fmt.Errorf("%d batches dropped, %d bytes kept", b.st.droppedBatches-before, b.st.bytes))
	return true
}

// boundMemoryLocked drops whole batches from memory, oldest first, while
// those kept for commits that fail exceed Options.MaxPending. A batch part
// of which reached the file is deleted from it at the next commit. The gaps
// are written to the sidecar, so that they survive a kill as well.
func (b *Bolt) boundMemoryLocked() {
	limit := b.opts.maxPending()
	if b.held <= limit {
		return
	}
	n := 0
	for _, seq := range b.openSeqsLocked() {
		if b.held <= limit*3/4 {
			break
		}
		b.dropOpenLocked(seq, ReasonDiskFull)
		n++
	}
	b.log.Warn("buffer dropped batches it could not commit", "err", fmt.Errorf("%d batches over the %d-byte memory bound: %w", n, limit, b.commitErr))
	if err := b.writeSidecarLocked(); err != nil {
		b.log.Warn("gap of batches dropped from memory not written to the sequence sidecar", "err", err)
	}
}

// dropOpenLocked drops the batch seq kept in memory: its pending operations
// go, a part of it already in the file is deleted at the next commit, and
// the gap is reported with its exact readings.
func (b *Bolt) dropOpenLocked(seq uint64, reason string) {
	ob := b.open[seq]
	if ob == nil {
		return
	}
	b.pending = slices.DeleteFunc(b.pending, func(o op) bool { return o.seq == seq && o.kind != opAck })
	if ob.inFile {
		b.queueLocked(op{kind: opDrop, seq: seq})
	}
	addToGap(&b.memGaps, seq, ob.readings, reason)
	b.forgetLocked(seq)
}
