package buffer

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// guard runs fn, which uses bbolt, turning a panic or a memory fault (bbolt
// reads the file through a memory map, so damage can fault) into an error
// wrapping ErrCorrupt.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return fn()
}

// queueLocked adds o to the pending operations and wakes the committer when
// they were empty.
func (b *Bolt) queueLocked(o op) {
	b.pending = append(b.pending, o)
	if len(b.pending) == 1 && b.opts.Durability > 0 {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
}

// commitIfEagerLocked commits now when there is no durability window.
func (b *Bolt) commitIfEagerLocked() error {
	if b.opts.Durability > 0 {
		return nil
	}
	return b.commitLocked(nil)
}

// commitLocked applies the pending operations, then extra, then the limits,
// in one bbolt transaction. When the file turns out damaged it is replaced
// and the commit retried; when the filesystem is full, the oldest batches
// are dropped to make room and the commit retried. On failure the
// operations stay pending, within Options.MaxPending.
func (b *Bolt) commitLocked(extra func(x *txn) error) error {
	var err error
	relieved, replaced := false, false
	for {
		if b.db == nil {
			if err = b.replaceLocked(); err != nil {
				break
			}
		}
		b.makeRoomLocked()
		if err = b.commitOnceLocked(extra); err == nil {
			break
		}
		if errors.Is(err, ErrCorrupt) && !replaced {
			replaced = true
			b.damagedLocked(b.gen, err)
			continue
		}
		if isNoSpace(err) && !relieved {
			relieved = true
			if b.relieveLocked(b.needLocked()) {
				continue
			}
		}
		break
	}
	if err != nil {
		if b.commitErr == nil {
			b.log.Warn("buffer commit failed, keeping operations in memory", "err", err)
		}
		b.commitErr = err
		b.boundMemoryLocked()
		// Say in the sidecar what dying now would lose, once per
		// attempt: a kill leaves a gap record, not a silent hole.
		if err := b.writeSidecarLocked(); err != nil {
			b.log.Warn("batches held in memory not written to the sequence sidecar", "err", err)
		}
		return fmt.Errorf("%w: %w", ErrNotCommitted, err)
	}
	if b.commitErr != nil {
		b.log.Info("buffer commit recovered")
		b.commitErr = nil
		if b.res.held > 0 {
			if err := b.writeSidecarLocked(); err != nil {
				b.log.Warn("buffer sequence sidecar not cleared of batches held in memory", "err", err)
			}
		}
	}
	return nil
}

// commitOnceLocked is one attempt of commitLocked.
func (b *Bolt) commitOnceLocked(extra func(x *txn) error) error {
	n, memGaps := len(b.pending), len(b.memGaps)
	var (
		x         *txn
		oldestSeq uint64
		oldest    time.Time
	)
	now := b.opts.now()
	l := limitOf(b.opts)
	err := b.update(func(t *txn) error {
		x = t
		for i := range b.pending {
			if err := x.apply(&b.pending[i]); err != nil {
				return err
			}
		}
		for _, g := range b.memGaps {
			addGap(&x.gaps, g)
			x.st.next = max(x.st.next, g.ToSeq+1) // used numbers, never assigned again
			x.st.droppedBatches += g.Batches
			x.st.droppedReadings += g.Readings
		}
		if err := x.flush(); err != nil {
			return err
		}
		if err := x.enforce(l, now); err != nil {
			return err
		}
		if extra != nil {
			if err := extra(x); err != nil {
				return err
			}
			if err := x.flush(); err != nil {
				return err
			}
			if err := x.enforce(l, now); err != nil {
				return err
			}
		}
		var err error
		oldestSeq, oldest, err = x.oldest()
		return err
	})
	if err != nil {
		return err
	}
	closed := extra != nil
	for _, o := range b.pending[:n] {
		switch o.kind {
		case opBegin:
			if ob := b.open[o.seq]; ob != nil {
				ob.inFile = true
			}
		case opSeal:
			b.forgetLocked(o.seq)
			closed = true
		case opDrop:
			b.forgetLocked(o.seq)
		}
	}
	b.pending = slices.Clip(b.pending[n:])
	if len(b.pending) == 0 {
		b.pending = nil
	}
	b.memGaps = slices.Clip(b.memGaps[memGaps:])
	b.tx = x.id
	b.committedLocked(x, oldestSeq, oldest)
	if b.res.gaps > 0 && len(b.memGaps) == 0 && len(b.carried) == 0 {
		if err := b.writeSidecarLocked(); err != nil {
			b.log.Warn("buffer sequence sidecar not cleared of committed gaps", "err", err)
		}
	}
	if closed {
		b.notifyLocked()
	}
	return nil
}

// committedLocked takes the state that transaction x committed.
func (b *Bolt) committedLocked(x *txn, oldestSeq uint64, oldest time.Time) {
	b.st, b.gaps = x.st, x.gaps
	b.oldestSeq, b.oldest = oldestSeq, oldest
	for _, seq := range x.added {
		b.stored.add(seq, seq)
	}
	if len(x.removed) > 0 {
		b.vmu.Lock()
		for _, seq := range x.removed {
			b.stored.remove(seq)
			delete(b.verified, seq)
		}
		b.vmu.Unlock()
	}
}

// notifyLocked calls Options.OnCommit, once OpenBolt has returned.
func (b *Bolt) notifyLocked() {
	if b.opened && b.opts.OnCommit != nil {
		b.opts.OnCommit()
	}
}

// forgetLocked removes an open batch from memory.
func (b *Bolt) forgetLocked(seq uint64) {
	if ob := b.open[seq]; ob != nil {
		b.held -= ob.bytes
		delete(b.open, seq)
	}
}

// usableLocked returns ErrClosed after Close, or nil.
func (b *Bolt) usableLocked() error {
	if b.closed {
		return ErrClosed
	}
	return nil
}

// update runs fn in a write transaction of the store's file (see
// updateTxn).
func (b *Bolt) update(fn func(x *txn) error) error {
	b.dbMu.RLock()
	defer b.dbMu.RUnlock()
	if b.db == nil {
		return b.brokenErr()
	}
	return updateTxn(b.db, b.log, fn)
}

// updateTxn runs fn on the state of db in a write transaction and saves
// the state fn leaves, guarded: a panic or fault in bbolt returns an error
// wrapping ErrCorrupt.
func updateTxn(db *bolt.DB, log *slog.Logger, fn func(x *txn) error) error {
	return guard(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			x, err := newTxn(tx, log)
			if err != nil {
				return err
			}
			if err := fn(x); err != nil {
				return err
			}
			return x.save()
		})
	})
}

// viewLocked runs fn in a guarded read transaction; b.mu is held, so the
// file cannot be replaced meanwhile.
func (b *Bolt) viewLocked(fn func(x *txn) error) error {
	b.dbMu.RLock()
	defer b.dbMu.RUnlock()
	if b.db == nil {
		return b.brokenErr()
	}
	return guard(func() error {
		return b.db.View(func(tx *bolt.Tx) error {
			return fn(&txn{batches: tx.Bucket(bucketBatches), chunks: tx.Bucket(bucketChunks), meta: tx.Bucket(bucketMeta)})
		})
	})
}

// errNoFile is returned by reads while a damaged file could not be
// replaced yet: nothing committed can be read.
var errNoFile = fmt.Errorf("%w: no buffer file open", ErrCorrupt)

// brokenErr is the error while no file is open.
func (b *Bolt) brokenErr() error {
	if b.broken != nil {
		return fmt.Errorf("%w: %w", errNoFile, b.broken)
	}
	return errNoFile
}

// isNoSpace reports whether err means the filesystem (or a quota) is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// lowWaterLocked is the smallest sequence number still stored, queued or in
// an unreported gap: below it, everything was delivered or reported.
func (b *Bolt) lowWaterLocked(seq uint64) uint64 {
	low := seq
	for _, o := range b.pending {
		low = min(low, o.seq)
	}
	if b.oldestSeq > 0 {
		low = min(low, b.oldestSeq)
	}
	for _, gs := range [][]Gap{b.gaps, b.memGaps, b.carried} {
		for _, g := range gs {
			low = min(low, max(g.FromSeq, 1))
		}
	}
	if b.reopen != nil { // the damaged file still to replace
		low = min(low, b.reopen.scope.from)
	}
	return low
}

// reserveLocked writes a new reservation block to the sidecar when the
// numbers up to last are not all covered by the current one; the caller
// assigns numbers from first.
func (b *Bolt) reserveLocked(first, last uint64) error {
	if last < b.res.to {
		return nil
	}
	old := b.res
	b.res = reservation{low: b.lowWaterLocked(first), from: first, to: last + reserveBlock, gaps: old.gaps}
	if err := b.writeSidecarLocked(); err != nil {
		b.res = old
		return err
	}
	return nil
}

// writeSidecarLocked writes the reservation and the gaps not committed to
// the file (carried from the last process, or dropped from memory) to the
// sidecar.
func (b *Bolt) writeSidecarLocked() error {
	gaps := append(slices.Clone(b.carried), b.memGaps...)
	var h held
	if b.commitErr != nil {
		h = held{tx: b.tx, gaps: b.heldGapsLocked()}
	}
	if err := writeSidecar(b.seqPath(), b.res, gaps, h); err != nil {
		return err
	}
	b.res.gaps, b.res.held = len(gaps), len(h.gaps)
	return nil
}

// heldGapsLocked returns the gaps that the open batches with operations not
// committed would leave if the process died now: their numbers and all
// their readings, since the next start drops what of them is in the file.
func (b *Bolt) heldGapsLocked() []Gap {
	pending := map[uint64]bool{}
	for _, o := range b.pending {
		pending[o.seq] = o.kind != opAck || pending[o.seq]
	}
	var gaps []Gap
	for _, seq := range b.openSeqsLocked() {
		if ob := b.open[seq]; !ob.inFile || pending[seq] {
			addToGap(&gaps, seq, ob.readings, ReasonDiskFull)
		}
	}
	return gaps
}

// run is the committer: it commits the pending operations one durability
// window after the first of them was queued, and keeps retrying every window
// while commits fail.
func (b *Bolt) run() {
	defer close(b.done)
	t := time.NewTimer(b.opts.Durability)
	t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-b.wake:
		}
		for more := true; more; {
			t.Reset(b.opts.Durability)
			select {
			case <-b.stop:
				t.Stop()
				return
			case <-t.C:
			}
			b.mu.Lock()
			if len(b.pending) > 0 || len(b.memGaps) > 0 {
				_ = b.commitLocked(nil) // failures are logged and kept in Stats
			}
			more = len(b.pending) > 0 || len(b.memGaps) > 0
			b.mu.Unlock()
		}
	}
}

// markDamaged writes the marker that makes the next OpenBolt treat the file
// as damaged, for when the process dies before the file is replaced.
func (b *Bolt) markDamaged() {
	if err := os.WriteFile(b.path+checkingSuffix, nil, 0o600); err != nil {
		b.log.Warn("damaged buffer file not marked for the next start", "err", err)
	}
}
