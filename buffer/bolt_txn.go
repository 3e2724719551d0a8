package buffer

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"
)

// opKind is the kind of a queued operation.
type opKind uint8

const (
	opBegin opKind = iota + 1
	opAppend
	opSeal
	opAck
	opDrop // delete a batch the store dropped (its gap counts it)
)

// op is an operation accepted by Begin, Append, Seal or Ack (or a drop
// decided by the store) and waiting for the next commit.
type op struct {
	kind     opKind
	seq      uint64
	idx      uint32 // chunk index, for opAppend
	class    string
	created  time.Time
	data     []byte // header, chunk or trailer
	readings int
}

// txn applies operations to the buckets within one bbolt write transaction.
// Records touched are cached decoded and written back by flush.
type txn struct {
	meta, batches, chunks *bolt.Bucket
	st                    state
	gaps                  []Gap // pending gaps
	recs                  map[uint64]*record
	dirty                 map[uint64]bool
	added, removed        []uint64 // batches stored and deleted, for Bolt.stored
	hwm                   int64    // bytes of the file in use when the transaction began
	id                    uint64   // bbolt's transaction id: the file's, once committed
	log                   *slog.Logger
}

// fillPercent is how full bbolt fills a page before it splits it. Batches
// and chunks are keyed by ascending sequence number, so pages are filled
// almost full rather than to bbolt's default half, which nearly halves the
// file (see FileSize).
const fillPercent = 0.95

func newTxn(tx *bolt.Tx, log *slog.Logger) (*txn, error) {
	x := &txn{
		meta:    tx.Bucket(bucketMeta),
		batches: tx.Bucket(bucketBatches),
		chunks:  tx.Bucket(bucketChunks),
		recs:    map[uint64]*record{},
		dirty:   map[uint64]bool{},
		hwm:     tx.Size(),
		id:      uint64(tx.ID()),
		log:     log,
	}
	if x.meta == nil || x.batches == nil || x.chunks == nil {
		return nil, fmt.Errorf("missing bucket: %w", errDecode)
	}
	x.batches.FillPercent, x.chunks.FillPercent = fillPercent, fillPercent
	var err error
	if x.st, err = decodeState(x.meta.Get(keyState)); err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	if v := x.meta.Get(keyGap); v != nil {
		if x.gaps, err = decodeGaps(v); err != nil {
			return nil, fmt.Errorf("read gap: %w", err)
		}
	}
	return x, nil
}

// get returns the record of batch seq, or nil when there is none.
func (x *txn) get(seq uint64) (*record, error) {
	if r, ok := x.recs[seq]; ok {
		return r, nil
	}
	v := x.batches.Get(seqKey(seq))
	if v == nil {
		return nil, nil
	}
	r, err := decodeRecord(v)
	if err != nil {
		return nil, fmt.Errorf("read batch %d: %w", seq, err)
	}
	x.recs[seq] = r
	return r, nil
}

func (x *txn) apply(o *op) error {
	if o.kind == opBegin {
		r := &record{class: o.class, created: o.created, bytes: int64(len(o.data)), header: o.data}
		x.recs[o.seq], x.dirty[o.seq] = r, true
		x.added = append(x.added, o.seq)
		x.st.open++
		x.st.bytes += r.bytes
		x.st.next = max(x.st.next, o.seq+1)
		return nil
	}
	r, err := x.get(o.seq)
	if err != nil {
		return err
	}
	switch o.kind {
	case opAppend:
		if r == nil || r.closed() {
			x.log.Warn("buffer dropped append to missing batch", "seq", o.seq)
			return nil
		}
		if err := x.chunks.Put(chunkKey(o.seq, o.idx), o.data); err != nil {
			return fmt.Errorf("append %d: %w", o.seq, err)
		}
		r.chunks = max(r.chunks, o.idx+1)
		r.bytes += int64(len(o.data))
		r.readings += int64(o.readings)
		x.st.bytes += int64(len(o.data))
		x.st.readings += int64(o.readings)
		x.dirty[o.seq] = true
	case opSeal:
		if r == nil || r.closed() {
			x.log.Warn("buffer dropped seal of missing batch", "seq", o.seq)
			return nil
		}
		r.trailer = o.data
		r.bytes += int64(len(o.data))
		x.st.bytes += int64(len(o.data))
		x.st.open--
		x.st.closed++
		x.dirty[o.seq] = true
	case opAck:
		if r == nil || !r.closed() {
			return nil // already acknowledged or dropped
		}
		return x.delete(o.seq, r)
	case opDrop: // counted with its gap
		if r == nil {
			return nil // never committed
		}
		return x.delete(o.seq, r)
	}
	return nil
}

// store adds the closed batch b, as TakeGap does.
func (x *txn) store(b *Batch) error {
	r := &record{class: b.Class, created: b.Created, readings: int64(b.Readings), bytes: batchBytes(b),
		chunks: uint32(len(b.Chunks)), header: b.Header, trailer: b.Trailer}
	for i, c := range b.Chunks {
		if err := x.chunks.Put(chunkKey(b.Seq, uint32(i)), c); err != nil {
			return fmt.Errorf("store %d: %w", b.Seq, err)
		}
	}
	x.recs[b.Seq], x.dirty[b.Seq] = r, true
	x.added = append(x.added, b.Seq)
	x.st.closed++
	x.st.bytes += r.bytes
	x.st.readings += r.readings
	x.st.next = max(x.st.next, b.Seq+1)
	return nil
}

func (x *txn) delete(seq uint64, r *record) error {
	for i := range r.chunks {
		if err := x.chunks.Delete(chunkKey(seq, i)); err != nil {
			return fmt.Errorf("delete %d: %w", seq, err)
		}
	}
	if err := x.batches.Delete(seqKey(seq)); err != nil {
		return fmt.Errorf("delete %d: %w", seq, err)
	}
	x.st.bytes -= r.bytes
	x.st.readings -= r.readings
	if r.closed() {
		x.st.closed--
	} else {
		x.st.open--
	}
	x.recs[seq] = nil
	delete(x.dirty, seq)
	x.removed = append(x.removed, seq)
	return nil
}

// flush writes the modified records back.
func (x *txn) flush() error {
	for seq := range x.dirty {
		if err := x.batches.Put(seqKey(seq), x.recs[seq].encode()); err != nil {
			return fmt.Errorf("write batch %d: %w", seq, err)
		}
	}
	clear(x.dirty)
	return nil
}

// enforce drops the oldest closed batches while l is exceeded and adds them
// to the pending gaps. Records must be flushed.
func (x *txn) enforce(l limit, now time.Time) error {
	var bad error
	entries := func(yield func(entry) bool) {
		c := x.batches.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			r, err := decodeRecord(v)
			if err != nil {
				bad = fmt.Errorf("read batch %d: %w", seqFromKey(k), err)
				return
			}
			if !yield(r.entry(seqFromKey(k))) {
				return
			}
		}
	}
	drops := planDrops(entries, x.st.bytes, l, now)
	if bad != nil {
		return bad
	}
	for _, d := range drops {
		r, err := x.get(d.seq)
		if err != nil {
			return err
		}
		if r == nil {
			continue
		}
		if err := x.delete(d.seq, r); err != nil {
			return err
		}
		x.st.droppedBatches++
		x.st.droppedReadings += uint64(d.readings)
		addToGap(&x.gaps, d.seq, d.readings, d.reason)
	}
	return nil
}

// save writes the state and the pending gaps.
func (x *txn) save() error {
	if err := x.meta.Put(keyState, x.st.encode()); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if len(x.gaps) == 0 {
		return x.meta.Delete(keyGap)
	}
	return x.meta.Put(keyGap, encodeGaps(x.gaps))
}

// oldest returns the sequence number and creation time of the oldest stored
// batch, or zeros.
func (x *txn) oldest() (uint64, time.Time, error) {
	k, v := x.batches.Cursor().First()
	if k == nil {
		return 0, time.Time{}, nil
	}
	r, err := decodeRecord(v)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("read batch %d: %w", seqFromKey(k), err)
	}
	return seqFromKey(k), r.created, nil
}

func seqFromKey(k []byte) uint64 { return binary.BigEndian.Uint64(k[:8]) }
