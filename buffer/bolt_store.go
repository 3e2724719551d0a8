package buffer

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Begin implements Store. It writes a new block of the sequence reservation
// to the sidecar first when needed.
func (b *Bolt) Begin(class string, created time.Time, build func(seq uint64) ([]byte, error)) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked(); err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	seq := b.next
	if err := b.reserveLocked(seq); err != nil {
		return 0, fmt.Errorf("begin %d: reserve sequence numbers: %w", seq, err)
	}
	h, err := build(seq)
	if err != nil {
		return 0, fmt.Errorf("begin %d: build header: %w", seq, err)
	}
	if len(h) > bolt.MaxValueSize/2 {
		return 0, fmt.Errorf("begin %d: header of %d bytes: %w", seq, len(h), ErrInvalid)
	}
	b.next++
	b.open[seq] = &openBatch{}
	b.queueLocked(op{kind: opBegin, seq: seq, class: class, created: created, data: clone(h)})
	if err := b.commitIfEagerLocked(); err != nil {
		return seq, fmt.Errorf("begin %d: %w", seq, err)
	}
	return seq, nil
}

// Append implements Store.
func (b *Bolt) Append(seq uint64, chunk []byte, readings int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked(); err != nil {
		return fmt.Errorf("append %d: %w", seq, err)
	}
	ob := b.open[seq]
	if ob == nil || ob.sealed {
		return fmt.Errorf("append %d: %w", seq, ErrUnknownBatch)
	}
	if len(chunk) > bolt.MaxValueSize/2 || readings < 0 {
		return fmt.Errorf("append %d: chunk of %d bytes, %d readings: %w", seq, len(chunk), readings, ErrInvalid)
	}
	b.queueLocked(op{kind: opAppend, seq: seq, idx: ob.chunks, data: clone(chunk), readings: readings})
	ob.chunks++
	if err := b.commitIfEagerLocked(); err != nil {
		return fmt.Errorf("append %d: %w", seq, err)
	}
	return nil
}

// Seal implements Store. With a durability window the trailer is
// group-committed like chunks; OnCommit tells when it is. Calling Seal again
// after it returned ErrNotCommitted only retries the commit.
func (b *Bolt) Seal(seq uint64, trailer []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked(); err != nil {
		return fmt.Errorf("seal %d: %w", seq, err)
	}
	if len(trailer) == 0 || len(trailer) > bolt.MaxValueSize/2 {
		return fmt.Errorf("seal %d: trailer of %d bytes: %w", seq, len(trailer), ErrInvalid)
	}
	ob := b.open[seq]
	if ob == nil {
		return fmt.Errorf("seal %d: %w", seq, ErrUnknownBatch)
	}
	if !ob.sealed {
		ob.sealed = true
		b.queueLocked(op{kind: opSeal, seq: seq, data: clone(trailer)})
	}
	if err := b.commitIfEagerLocked(); err != nil {
		return fmt.Errorf("seal %d: %w", seq, err)
	}
	return nil
}

// Ack implements Store. Unknown sequence numbers, such as batches already
// acknowledged or dropped by the limits, are ignored. With a durability
// window the deletions are group-committed: a crash before the commit
// redelivers them.
func (b *Bolt) Ack(seqs ...uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked(); err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	for _, seq := range seqs {
		if ob := b.open[seq]; ob != nil && !ob.sealed {
			return fmt.Errorf("ack %d: %w", seq, ErrBatchOpen)
		}
	}
	for _, seq := range seqs {
		b.queueLocked(op{kind: opAck, seq: seq})
	}
	if err := b.commitIfEagerLocked(); err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	return nil
}

// TakeGap implements Store. When a gap is pending it commits everything
// pending in the same transaction; otherwise it does nothing, so it is cheap
// to call after every poll.
func (b *Bolt) TakeGap(build func(seq uint64, g Gap) (Batch, error)) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked(); err != nil {
		return false, fmt.Errorf("take gap: %w", err)
	}
	if b.gap.Reason == "" {
		return false, nil // drops only appear in commits, which set b.gap
	}
	seq := b.next
	taken := false
	err := b.commitLocked(func(x *txn) error {
		if x.gap.Reason == "" {
			return nil
		}
		if err := b.reserveLocked(seq); err != nil {
			return fmt.Errorf("take gap %d: reserve sequence numbers: %w", seq, err)
		}
		gb, err := gapBatch(seq, x.gap, build, b.opts.now())
		if err != nil {
			return err
		}
		if err := x.store(&gb); err != nil {
			return err
		}
		x.gap = Gap{}
		taken = true
		return nil
	})
	if err != nil {
		return false, err
	}
	if taken {
		b.next = seq + 1
	}
	return taken, nil
}

// Put implements Store. It commits everything pending in the same
// transaction, before returning.
func (b *Bolt) Put(build func(seq uint64) (Batch, error)) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked(); err != nil {
		return 0, fmt.Errorf("put: %w", err)
	}
	seq := b.next
	if err := b.reserveLocked(seq); err != nil {
		return 0, fmt.Errorf("put %d: reserve sequence numbers: %w", seq, err)
	}
	err := b.commitLocked(func(x *txn) error {
		pb, err := closedBatch(seq, build, b.opts.now(), "put")
		if err != nil {
			return err
		}
		if pb.Class == "" {
			return fmt.Errorf("put %d: batch has no class: %w", seq, ErrInvalid)
		}
		return x.store(&pb)
	})
	if err != nil {
		return 0, err
	}
	b.next = seq + 1
	return seq, nil
}

// Sync implements Store. It also applies MaxAge when limits are set.
func (b *Bolt) Sync() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if len(b.pending) == 0 && b.opts.MaxBytes <= 0 && b.opts.MaxAge <= 0 {
		return nil
	}
	if err := b.commitLocked(nil); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

// Unsealed implements Store.
func (b *Bolt) Unsealed() ([]Batch, error) {
	var out []Batch
	err := b.view(func(x *txn) error {
		return x.batches.ForEach(func(k, v []byte) error {
			bt, err := x.batch(k, v)
			if err == nil && bt.Trailer == nil {
				out = append(out, bt)
			}
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("unsealed: %w", err)
	}
	return out, nil
}

// Next implements Store.
func (b *Bolt) Next(after uint64, max int) ([]Batch, error) {
	var out []Batch
	err := b.view(func(x *txn) error {
		c := x.batches.Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < max; k, v = c.Next() {
			bt, err := x.batch(k, v)
			if err != nil {
				return err
			}
			if bt.Trailer != nil {
				out = append(out, bt)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("next after %d: %w", after, err)
	}
	return out, nil
}

// Stats implements Store. The figures describe the committed content; Pending
// counts the operations not committed yet, and CommitErr is set while commits
// fail.
func (b *Bolt) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Stats{
		Batches:         int(b.st.closed),
		OpenBatches:     int(b.st.open),
		Readings:        b.st.readings,
		Bytes:           b.st.bytes,
		Oldest:          b.oldest,
		NextSeq:         b.next,
		DroppedBatches:  b.st.droppedBatches,
		DroppedReadings: b.st.droppedReadings,
		Pending:         len(b.pending),
		CommitErr:       b.commitErr,
	}
}

// Close implements Store. It stops the committer, commits what is pending
// and closes the file; it returns the commit's error, if any, in which case
// the pending operations are lost.
func (b *Bolt) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.stop)
	b.mu.Unlock()
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.broken != nil {
		// bbolt holds its write lock since the panic: closing would
		// wait forever. The process is about to restart.
		return fmt.Errorf("close: %w", b.broken)
	}
	var err error
	if len(b.pending) > 0 {
		err = b.commitLocked(nil)
	}
	if cerr := b.db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// view runs fn in a read transaction on the committed content.
func (b *Bolt) view(fn func(x *txn) error) error {
	b.mu.Lock()
	err := b.usableLocked()
	b.mu.Unlock()
	if err != nil {
		return err
	}
	return b.db.View(func(tx *bolt.Tx) error {
		x := &txn{batches: tx.Bucket(bucketBatches), chunks: tx.Bucket(bucketChunks)}
		return fn(x)
	})
}

// batch decodes the batch stored under k with its chunks, copied out of the
// transaction's memory.
func (x *txn) batch(k, v []byte) (Batch, error) {
	seq := seqFromKey(k)
	r, err := decodeRecord(v)
	if err != nil {
		return Batch{}, fmt.Errorf("read batch %d: %w", seq, err)
	}
	bt := Batch{Seq: seq, Class: r.class, Header: r.header, Trailer: r.trailer, Readings: int(r.readings),
		Created: r.created, Chunks: make([][]byte, r.chunks)}
	for i := range r.chunks {
		c := x.chunks.Get(chunkKey(seq, i))
		if c == nil {
			return Batch{}, fmt.Errorf("read batch %d: chunk %d missing: %w", seq, i, errDecode)
		}
		bt.Chunks[i] = clone(c)
	}
	return bt, nil
}

// Backup writes a consistent copy of the committed state to path (mode
// 0600), for diagnostics: the copy holds the same sealed chunks as the
// buffer, never plaintext.
func (b *Bolt) Backup(path string) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if err := b.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(path, 0o600) }); err != nil {
		return fmt.Errorf("back up buffer to %s: %w", path, err)
	}
	return nil
}
