package buffer

import (
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

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
// in one bbolt transaction. On failure, the operations stay pending.
func (b *Bolt) commitLocked(extra func(x *txn) error) error {
	n := len(b.pending)
	var (
		st        state
		gap       Gap
		oldestSeq uint64
		oldest    time.Time
	)
	now := b.opts.now()
	err := b.update(func(tx *bolt.Tx) error {
		x, err := newTxn(tx, b.log)
		if err != nil {
			return err
		}
		for i := range b.pending {
			if err := x.apply(&b.pending[i]); err != nil {
				return err
			}
		}
		if err := x.flush(); err != nil {
			return err
		}
		if err := x.enforce(b.opts, now); err != nil {
			return err
		}
		if extra != nil {
			if err := extra(x); err != nil {
				return err
			}
			if err := x.flush(); err != nil {
				return err
			}
			if err := x.enforce(b.opts, now); err != nil {
				return err
			}
		}
		if err := x.save(); err != nil {
			return err
		}
		st, gap = x.st, x.gap
		oldestSeq, oldest, err = x.oldest()
		return err
	})
	if err != nil {
		if b.commitErr == nil {
			b.log.Warn("buffer commit failed, keeping operations in memory", "err", err)
		}
		b.commitErr = err
		return fmt.Errorf("%w: %w", ErrNotCommitted, err)
	}
	if b.commitErr != nil {
		b.log.Info("buffer commit recovered")
		b.commitErr = nil
	}
	closed := extra != nil
	for _, o := range b.pending[:n] {
		if o.kind == opSeal {
			delete(b.open, o.seq)
			closed = true
		}
	}
	if closed && b.opts.OnCommit != nil {
		b.opts.OnCommit()
	}
	b.pending = b.pending[n:]
	if len(b.pending) == 0 {
		b.pending = nil
	}
	b.st, b.gap, b.oldestSeq, b.oldest = st, gap, oldestSeq, oldest
	return nil
}

// usableLocked returns ErrClosed after Close, the damage found after a
// bbolt panic, or nil.
func (b *Bolt) usableLocked() error {
	if b.closed {
		return ErrClosed
	}
	return b.broken
}

// update runs fn in a bbolt write transaction. A panic in bbolt means the
// file is damaged in a way the check at open did not see: the file is then
// marked so that the next open moves it aside, and the store refuses all
// further work with ErrCorrupt, for the process to restart.
func (b *Bolt) update(fn func(*bolt.Tx) error) (err error) {
	if b.broken != nil {
		return b.broken
	}
	defer func() {
		if r := recover(); r != nil {
			b.broken = fmt.Errorf("%w: %v", ErrCorrupt, r)
			if merr := os.WriteFile(b.path+checkingSuffix, nil, 0o600); merr != nil {
				b.broken = errors.Join(b.broken, fmt.Errorf("mark the file for the next open: %w", merr))
			}
			b.log.Error("buffer file damaged; it is moved aside at the next start", "err", b.broken)
			err = b.broken
		}
	}()
	return b.db.Update(fn)
}

// reserveLocked writes a new reservation block to the sidecar when seq is
// not covered by the current one.
func (b *Bolt) reserveLocked(seq uint64) error {
	if seq < b.res.to {
		return nil
	}
	low := seq
	for _, o := range b.pending {
		low = min(low, o.seq)
	}
	if b.oldestSeq > 0 {
		low = min(low, b.oldestSeq)
	}
	if b.gap.Reason != "" && b.gap.FromSeq > 0 {
		low = min(low, b.gap.FromSeq)
	}
	r := reservation{low: low, from: seq, to: seq + reserveBlock}
	if err := writeReservation(b.seqPath(), r); err != nil {
		return err
	}
	b.res = r
	return nil
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
			if len(b.pending) > 0 {
				_ = b.commitLocked(nil) // failures are logged and kept in Stats
			}
			more = len(b.pending) > 0
			b.mu.Unlock()
		}
	}
}
