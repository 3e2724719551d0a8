package buffer

import (
	"fmt"
	"iter"
	"slices"
	"sync"
	"time"
)

// Memory is a Store kept in memory, with the same contract as Bolt but
// without durability: everything is lost when the process ends. It suits
// tests and gateways without writable storage.
type Memory struct {
	opts Options

	mu              sync.Mutex
	batches         []*Batch // ascending Seq
	next            uint64
	bytes           int64
	readings        int64
	droppedBatches  uint64
	droppedReadings uint64
	gaps            []Gap // pending
	closed          bool
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory Store whose first sequence number is 1.
// opts.Durability is ignored.
func NewMemory(opts Options) *Memory {
	return &Memory{opts: opts, next: 1}
}

// Begin implements Store.
func (m *Memory) Begin(class string, created time.Time, build func(seq uint64) ([]byte, error)) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, fmt.Errorf("begin: %w", ErrClosed)
	}
	seq := m.next
	h, err := build(seq)
	if err != nil {
		return 0, fmt.Errorf("begin %d: build header: %w", seq, err)
	}
	m.next++
	m.batches = append(m.batches, &Batch{Seq: seq, Class: class, Header: clone(h), Created: created})
	m.bytes += int64(len(h))
	m.enforce()
	return seq, nil
}

// Append implements Store.
func (m *Memory) Append(seq uint64, chunk []byte, readings int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("append %d: %w", seq, ErrClosed)
	}
	b := m.find(seq)
	if b == nil || b.Trailer != nil {
		return fmt.Errorf("append %d: %w", seq, ErrUnknownBatch)
	}
	b.Chunks = append(b.Chunks, clone(chunk))
	b.Readings += readings
	m.bytes += int64(len(chunk))
	m.readings += int64(readings)
	m.enforce()
	return nil
}

// Seal implements Store.
func (m *Memory) Seal(seq uint64, trailer []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("seal %d: %w", seq, ErrClosed)
	}
	if len(trailer) == 0 {
		return fmt.Errorf("seal %d: empty trailer: %w", seq, ErrInvalid)
	}
	b := m.find(seq)
	if b == nil || b.Trailer != nil {
		return fmt.Errorf("seal %d: %w", seq, ErrUnknownBatch)
	}
	b.Trailer = clone(trailer)
	m.bytes += int64(len(trailer))
	m.enforce()
	return nil
}

// Unsealed implements Store.
func (m *Memory) Unsealed() ([]Batch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("unsealed: %w", ErrClosed)
	}
	var out []Batch
	for _, b := range m.batches {
		if b.Trailer == nil {
			out = append(out, cloneBatch(b))
		}
	}
	return out, nil
}

// Next implements Store.
func (m *Memory) Next(after uint64, max int) ([]Batch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("next after %d: %w", after, ErrClosed)
	}
	i, _ := slices.BinarySearchFunc(m.batches, after+1, cmpSeq)
	var out []Batch
	for ; i < len(m.batches) && len(out) < max; i++ {
		if b := m.batches[i]; b.Trailer != nil {
			out = append(out, cloneBatch(b))
		}
	}
	return out, nil
}

// Ack implements Store. Unknown sequence numbers, such as batches already
// acknowledged or dropped by the limits, are ignored.
func (m *Memory) Ack(seqs ...uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("ack: %w", ErrClosed)
	}
	for _, seq := range seqs {
		if b := m.find(seq); b != nil && b.Trailer == nil {
			return fmt.Errorf("ack %d: %w", seq, ErrBatchOpen)
		}
	}
	for _, seq := range seqs {
		if i, ok := slices.BinarySearchFunc(m.batches, seq, cmpSeq); ok {
			m.remove(i)
		}
	}
	return nil
}

// TakeGap implements Store.
func (m *Memory) TakeGap(build func(seq uint64, g Gap) (Batch, error)) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, fmt.Errorf("take gap: %w", ErrClosed)
	}
	m.enforce()
	if len(m.gaps) == 0 {
		return false, nil
	}
	var records []Batch
	for i, g := range m.gaps {
		b, err := gapBatch(m.next+uint64(i), g, build, m.opts.now())
		if err != nil {
			return false, err
		}
		records = append(records, b)
	}
	m.next += uint64(len(records))
	m.gaps = nil
	for i := range records {
		b := &records[i]
		m.batches = append(m.batches, b)
		m.bytes += batchBytes(b)
		m.readings += int64(b.Readings)
	}
	m.enforce()
	return true, nil
}

// gapBatch calls build for the pending gap g and checks the batch it returns.
func gapBatch(seq uint64, g Gap, build func(seq uint64, g Gap) (Batch, error), now time.Time) (Batch, error) {
	b, err := closedBatch(seq, func(seq uint64) (Batch, error) { return build(seq, g) }, now, "take gap")
	if err == nil && b.Class == "" {
		b.Class = GapClass
	}
	return b, err
}

// closedBatch calls build for seq and checks that it returned a closed batch
// for that number; op names the operation in errors.
func closedBatch(seq uint64, build func(seq uint64) (Batch, error), now time.Time, op string) (Batch, error) {
	b, err := build(seq)
	if err != nil {
		return Batch{}, fmt.Errorf("%s %d: build: %w", op, seq, err)
	}
	if len(b.Trailer) == 0 {
		return Batch{}, fmt.Errorf("%s %d: batch has no trailer: %w", op, seq, ErrInvalid)
	}
	if b.Seq != 0 && b.Seq != seq {
		return Batch{}, fmt.Errorf("%s %d: batch has seq %d: %w", op, seq, b.Seq, ErrInvalid)
	}
	b = cloneBatch(&b)
	b.Seq = seq
	if b.Created.IsZero() {
		b.Created = now
	}
	return b, nil
}

// Put implements Store.
func (m *Memory) Put(build func(seq uint64) (Batch, error)) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, fmt.Errorf("put: %w", ErrClosed)
	}
	seq := m.next
	b, err := closedBatch(seq, build, m.opts.now(), "put")
	if err != nil {
		return 0, err
	}
	if b.Class == "" {
		return 0, fmt.Errorf("put %d: batch has no class: %w", seq, ErrInvalid)
	}
	m.next++
	m.batches = append(m.batches, &b)
	m.bytes += batchBytes(&b)
	m.readings += int64(b.Readings)
	m.enforce()
	return seq, nil
}

// Sync implements Store; it only applies the limits.
func (m *Memory) Sync() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("sync: %w", ErrClosed)
	}
	m.enforce()
	return nil
}

// Stats implements Store.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{
		Readings:        m.readings,
		Bytes:           m.bytes,
		NextSeq:         m.next,
		DroppedBatches:  m.droppedBatches,
		DroppedReadings: m.droppedReadings,
	}
	for _, b := range m.batches {
		if b.Trailer == nil {
			s.OpenBatches++
		} else {
			s.Batches++
		}
	}
	if len(m.batches) > 0 {
		s.Oldest = m.batches[0].Created
	}
	return s
}

// Close implements Store. The content is discarded.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.batches = nil
	return nil
}

func (m *Memory) find(seq uint64) *Batch {
	if i, ok := slices.BinarySearchFunc(m.batches, seq, cmpSeq); ok {
		return m.batches[i]
	}
	return nil
}

func (m *Memory) remove(i int) {
	b := m.batches[i]
	m.bytes -= batchBytes(b)
	m.readings -= int64(b.Readings)
	m.batches = slices.Delete(m.batches, i, i+1)
}

// enforce drops batches until the limits hold.
func (m *Memory) enforce() {
	entries := func(yield func(entry) bool) {
		for _, b := range m.batches {
			e := entry{seq: b.Seq, class: b.Class, closed: b.Trailer != nil, created: b.Created,
				bytes: batchBytes(b), readings: int64(b.Readings)}
			if !yield(e) {
				return
			}
		}
	}
	for _, d := range planDrops(iter.Seq[entry](entries), m.bytes, limitOf(m.opts), m.opts.now()) {
		i, ok := slices.BinarySearchFunc(m.batches, d.seq, cmpSeq)
		if !ok {
			continue
		}
		m.remove(i)
		m.droppedBatches++
		m.droppedReadings += uint64(d.readings)
		addToGap(&m.gaps, d.seq, d.readings, d.reason)
	}
}

func cmpSeq(b *Batch, seq uint64) int {
	switch {
	case b.Seq < seq:
		return -1
	case b.Seq > seq:
		return 1
	}
	return 0
}
