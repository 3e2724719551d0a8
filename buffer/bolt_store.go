package buffer

import (
	"errors"
	"fmt"
	"slices"
	"sort"
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
	if err := b.reserveLocked(seq, seq); err != nil {
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
	h = clone(h)
	b.open[seq] = &openBatch{class: class, created: created, header: h, bytes: int64(len(h))}
	b.held += int64(len(h))
	b.queueLocked(op{kind: opBegin, seq: seq, class: class, created: created, data: h})
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
	if ob == nil || ob.trailer != nil {
		return fmt.Errorf("append %d: %w", seq, ErrUnknownBatch)
	}
	if len(chunk) > bolt.MaxValueSize/2 || readings < 0 {
		return fmt.Errorf("append %d: chunk of %d bytes, %d readings: %w", seq, len(chunk), readings, ErrInvalid)
	}
	c := clone(chunk)
	b.queueLocked(op{kind: opAppend, seq: seq, idx: uint32(len(ob.chunks)), data: c, readings: readings})
	ob.chunks = append(ob.chunks, c)
	ob.counts = append(ob.counts, readings)
	ob.readings += int64(readings)
	ob.bytes += int64(len(c))
	b.held += int64(len(c))
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
	if ob.trailer == nil {
		ob.trailer = clone(trailer)
		ob.bytes += int64(len(trailer))
		b.held += int64(len(trailer))
		b.queueLocked(op{kind: opSeal, seq: seq, data: ob.trailer})
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
		if ob := b.open[seq]; ob != nil && ob.trailer == nil {
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

// errGapsChanged makes TakeGap build its records again: the pending gaps
// changed between building and committing them.
var errGapsChanged = errors.New("pending gaps changed")

// TakeGap implements Store. It commits everything pending first; when gaps
// are pending it builds their records and stores them in a second
// transaction. It does nothing when no gap is pending, so it is cheap to
// call after every poll.
func (b *Bolt) TakeGap(build func(seq uint64, g Gap) (Batch, error)) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked(); err != nil {
		return false, fmt.Errorf("take gap: %w", err)
	}
	if len(b.gaps) == 0 && len(b.memGaps) == 0 {
		return false, nil // drops only appear in commits, which set b.gaps
	}
	if len(b.pending) > 0 || len(b.memGaps) > 0 {
		if err := b.commitLocked(nil); err != nil {
			return false, fmt.Errorf("take gap: %w", err)
		}
	}
	for attempt := 0; ; attempt++ {
		gaps := slices.Clone(b.gaps)
		first := b.next
		if len(gaps) == 0 {
			return false, nil
		}
		if err := b.reserveLocked(first, first+uint64(len(gaps))-1); err != nil {
			return false, fmt.Errorf("take gap %d: reserve sequence numbers: %w", first, err)
		}
		records := make([]Batch, len(gaps))
		for i, g := range gaps {
			var err error
			if records[i], err = gapBatch(first+uint64(i), g, build, b.opts.now()); err != nil {
				return false, err
			}
		}
		err := b.commitLocked(func(x *txn) error {
			if len(x.gaps) < len(gaps) || !slices.Equal(x.gaps[:len(gaps)], gaps) {
				return errGapsChanged
			}
			for i := range records {
				if err := x.store(&records[i]); err != nil {
					return err
				}
			}
			x.gaps = slices.Clone(x.gaps[len(gaps):])
			return nil
		})
		if errors.Is(err, errGapsChanged) && attempt < 3 {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("take gap: %w", err)
		}
		b.next = first + uint64(len(records))
		return true, nil
	}
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
	if err := b.reserveLocked(seq, seq); err != nil {
		return 0, fmt.Errorf("put %d: reserve sequence numbers: %w", seq, err)
	}
	pb, err := closedBatch(seq, build, b.opts.now(), "put")
	if err != nil {
		return 0, err
	}
	if pb.Class == "" {
		return 0, fmt.Errorf("put %d: batch has no class: %w", seq, ErrInvalid)
	}
	if err := b.commitLocked(func(x *txn) error { return x.store(&pb) }); err != nil {
		return 0, fmt.Errorf("put %d: %w", seq, err)
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
	if len(b.pending) == 0 && len(b.memGaps) == 0 && b.db != nil && b.opts.MaxBytes <= 0 && b.opts.MaxAge <= 0 {
		return nil
	}
	if err := b.commitLocked(nil); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

// badBatch is a stored batch that cannot be published: its record or a
// chunk is unreadable, or it fails Options.Verify.
type badBatch struct {
	seq      uint64
	readings int64 // -1 when not known
	err      error
}

// Unsealed implements Store. Open batches whose record or chunks cannot be
// read are dropped and reported as ReasonDamagedBatch. While a damaged file
// could not be replaced yet, there is nothing to read.
func (b *Bolt) Unsealed() ([]Batch, error) {
	var out []Batch
	var bad []badBatch
	err := b.view(func(x *txn) error {
		out, bad = nil, nil
		return x.batches.ForEach(func(k, v []byte) error {
			bt, err := x.batch(k, v)
			switch {
			case err != nil:
				bad = append(bad, badRecord(k, v, err))
			case bt.Trailer == nil:
				out = append(out, bt)
			}
			return nil
		})
	})
	if errors.Is(err, errNoFile) {
		return nil, nil // nothing committed to read until the file is replaced
	}
	if err != nil {
		return nil, fmt.Errorf("unsealed: %w", err)
	}
	b.dropBad(bad)
	return out, nil
}

// Next implements Store. A batch whose record or chunks cannot be read, or
// that fails Options.Verify, is not returned: it is deleted and reported as
// ReasonDamagedBatch. While a damaged file could not be replaced yet, there
// is nothing to read.
func (b *Bolt) Next(after uint64, max int) ([]Batch, error) {
	var out []Batch
	var bad []badBatch
	err := b.view(func(x *txn) error {
		out, bad = nil, nil
		c := x.batches.Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < max; k, v = c.Next() {
			bt, err := x.batch(k, v)
			if err != nil {
				bad = append(bad, badRecord(k, v, err))
				continue
			}
			if bt.Trailer == nil {
				continue
			}
			if err := b.verify(bt); err != nil {
				bad = append(bad, badBatch{seq: bt.Seq, readings: int64(bt.Readings), err: err})
				continue
			}
			out = append(out, bt)
		}
		return nil
	})
	if errors.Is(err, errNoFile) {
		return nil, nil // nothing committed to read until the file is replaced
	}
	if err != nil {
		return nil, fmt.Errorf("next after %d: %w", after, err)
	}
	b.dropBad(bad)
	return out, nil
}

// verify checks bt with Options.Verify once per batch.
func (b *Bolt) verify(bt Batch) error {
	if b.opts.Verify == nil {
		return nil
	}
	b.vmu.Lock()
	_, ok := b.verified[bt.Seq]
	b.vmu.Unlock()
	if ok {
		return nil
	}
	if err := b.opts.Verify(bt); err != nil {
		return err
	}
	b.vmu.Lock()
	b.verified[bt.Seq] = struct{}{}
	b.vmu.Unlock()
	return nil
}

// badRecord describes the stored batch k whose record v or chunks failed
// to read with err.
func badRecord(k, v []byte, err error) badBatch {
	bb := badBatch{seq: seqFromKey(k), readings: -1, err: err}
	if r, derr := decodeRecord(v); derr == nil {
		bb.readings = r.readings
	}
	return bb
}

// dropBad deletes batches that cannot be published and reports them.
func (b *Bolt) dropBad(bad []badBatch) {
	if len(bad) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	for _, bb := range bad {
		if ob := b.open[bb.seq]; ob != nil {
			// An open batch: it lives in memory too, so it is written again
			// rather than lost.
			b.log.Error("buffer batch damaged in the file, kept from memory", "seq", bb.seq, "err", bb.err)
			b.pending = slices.DeleteFunc(b.pending, func(o op) bool { return o.seq == bb.seq && o.kind != opAck })
			b.queueLocked(op{kind: opDrop, seq: bb.seq})
			b.requeueLocked(bb.seq, ob)
			continue
		}
		b.log.Error("buffer batch damaged, dropped instead of published", "seq", bb.seq, "err", bb.err)
		b.queueLocked(op{kind: opDrop, seq: bb.seq})
		g := Gap{FromSeq: bb.seq, ToSeq: bb.seq, Batches: 1, Readings: uint64(bb.readings), Reason: ReasonDamagedBatch}
		if bb.readings < 0 {
			g.Batches, g.Readings, g.Reason = 0, 0, unknownCount(ReasonDamagedBatch)
		}
		addGap(&b.memGaps, g)
	}
	if err := b.commitIfEagerLocked(); err != nil {
		b.log.Warn("buffer drop of damaged batches not committed yet", "err", err)
	}
}

// requeueLocked queues the operations that write open batch ob, kept in
// memory, into the file again.
func (b *Bolt) requeueLocked(seq uint64, ob *openBatch) {
	ob.inFile = false
	b.queueLocked(op{kind: opBegin, seq: seq, class: ob.class, created: ob.created, data: ob.header})
	for i, c := range ob.chunks {
		b.queueLocked(op{kind: opAppend, seq: seq, idx: uint32(i), data: c, readings: ob.counts[i]})
	}
	if ob.trailer != nil {
		b.queueLocked(op{kind: opSeal, seq: seq, data: ob.trailer})
	}
}

// openSeqsLocked returns the sequence numbers of the open batches, ascending.
func (b *Bolt) openSeqsLocked() []uint64 {
	seqs := make([]uint64, 0, len(b.open))
	for seq := range b.open {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs
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
// and closes the file. What cannot be committed (a full disk) is dropped
// with its gap written to the sequence sidecar, reported at the next open;
// Close returns an error only when that gap could not be written either.
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
	var err error
	if len(b.pending) > 0 || len(b.memGaps) > 0 || b.db == nil {
		if cerr := b.commitLocked(nil); cerr != nil {
			err = b.carryLocked(cerr)
		}
	}
	b.dbMu.Lock()
	db := b.db
	b.db = nil
	b.dbMu.Unlock()
	if db != nil {
		if cerr := guard(db.Close); err == nil && cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// carryLocked drops, at Close, every batch whose operations could not be
// committed (cause), and writes their gaps to the sequence sidecar.
func (b *Bolt) carryLocked(cause error) error {
	n := 0
	for _, seq := range b.openSeqsLocked() {
		if b.open[seq].inFile && !slices.ContainsFunc(b.pending, func(o op) bool { return o.seq == seq }) {
			continue // wholly in the file: closed again at the next start
		}
		b.dropOpenLocked(seq, ReasonDiskFull)
		n++
	}
	b.pending = nil
	if err := b.writeSidecarLocked(); err != nil {
		return fmt.Errorf("%w; gap of %d batches dropped at close not written: %w", cause, n, err)
	}
	b.log.Warn("buffer closed with batches it could not commit; they are reported as a gap at the next start", "err", cause)
	return nil
}

// view runs fn in a guarded read transaction on the committed content (see
// viewTx).
func (b *Bolt) view(fn func(x *txn) error) error {
	return b.viewTx(func(tx *bolt.Tx) error {
		return fn(&txn{batches: tx.Bucket(bucketBatches), chunks: tx.Bucket(bucketChunks), meta: tx.Bucket(bucketMeta)})
	})
}

// viewTx runs fn in a guarded read transaction. When bbolt fails on damage,
// the file is replaced and fn runs once more, on the fresh one.
func (b *Bolt) viewTx(fn func(tx *bolt.Tx) error) error {
	for attempt := 0; ; attempt++ {
		b.mu.Lock()
		err := b.usableLocked()
		gen := b.gen
		b.mu.Unlock()
		if err != nil {
			return err
		}
		b.dbMu.RLock()
		if b.db == nil {
			err = b.brokenErr()
			b.dbMu.RUnlock()
			return err
		}
		err = guard(func() error { return b.db.View(fn) })
		b.dbMu.RUnlock()
		if !errors.Is(err, ErrCorrupt) || attempt > 0 {
			return err
		}
		b.mu.Lock()
		if !b.closed {
			b.damagedLocked(gen, err)
			if cerr := b.commitIfEagerLocked(); cerr != nil {
				b.log.Warn("buffer open batches not written into the fresh file yet", "err", cerr)
			}
		}
		b.mu.Unlock()
	}
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
	if err := b.viewTx(func(tx *bolt.Tx) error { return tx.CopyFile(path, 0o600) }); err != nil {
		return fmt.Errorf("back up buffer to %s: %w", path, err)
	}
	return nil
}
