package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgegw/edgegw/internal/atomicfile"
	bolt "go.etcd.io/bbolt"
)

// A damaged file is replaced by a fresh one that holds what could be
// salvaged from it. The salvage reads the damaged file page by page (see
// bolt_scan.go and bolt_pages.go), without following its tree, so that it finds what a
// broken branch or a truncation hides: every leaf page that still says its
// own number is parsed, and its batch records and chunks are collected.
// Closed batches that pass Options.Verify are intact by construction (their
// signature covers the header and every chunk): they are stored again under
// their sequence numbers. Stale copies from freed pages are harmless: a
// batch already acknowledged is published again and deduplicated by the
// backend. What is not salvaged is reported in gaps: with the readings its
// record states when the record was readable, with ReasonCountUnknown when
// nothing of the batch could be read, and numbers the file never used with
// zero counts.

// salvageScope is what the store knows of the numbers a damaged or missing
// file may have held.
type salvageScope struct {
	from, to uint64 // numbers that may have been in the file
	stored   *seqSet
	// stored, when known (the file was damaged while in use), holds the
	// numbers that were in the file: the others were delivered or reported.
	skip seqSet // numbers accounted for elsewhere: kept in memory, or already in a gap
	// usedTo is the highest number a process used outside the file, with
	// readings not known: none of the numbers up to it is reported as
	// never used.
	usedTo uint64
	reason string // ReasonCorruptBuffer or ReasonMissingBuffer
}

// salvaged is the outcome of a salvage.
type salvaged struct {
	kept         seqSet // numbers stored again in the fresh file
	keptN, lostN int
	gaps         []Gap // what was lost, and pending gaps read from the damaged file
}

// salvage stores the intact batches of the damaged file at src, within sc,
// into the fresh database db, and returns the gaps of what it could not.
func (b *Bolt) salvage(src string, db *bolt.DB, sc salvageScope) salvaged {
	s := scanFile(src)
	defer s.close()
	var out salvaged
	for _, g := range s.gaps {
		if g.ToSeq >= sc.from && !sc.skip.has(g.FromSeq) && sc.stored == nil {
			addGap(&out.gaps, g) // pending in the damaged file: still to report
			sc.skip.add(g.FromSeq, g.ToSeq)
		}
	}
	seqs := make([]uint64, 0, len(s.records))
	for seq := range s.records {
		if seq >= sc.from && seq <= sc.to && !sc.skip.has(seq) && (sc.stored == nil || sc.stored.has(seq)) {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	lost := map[uint64]int64{}
	var batch []Batch
	var size int
	full := false
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := b.storeAll(db, batch); err != nil {
			b.log.Error("salvaged batches not stored", "err", err)
			for _, bt := range batch {
				out.kept.remove(bt.Seq)
				lost[bt.Seq] = int64(bt.Readings)
			}
			full = true
		}
		batch, size = batch[:0], 0
	}
	for _, seq := range seqs {
		bt, readings, ok := s.batch(seq, b.opts.Verify)
		if !ok || full {
			lost[seq] = readings
			continue
		}
		batch = append(batch, bt)
		out.kept.add(seq, seq)
		if size += int(batchBytes(&bt)); size > 1<<20 {
			flush()
		}
	}
	flush()
	// Numbers at or above the damaged file's next number were never used
	// by it, nor by a process that held batches in memory; they need a
	// record all the same.
	unused := sc.to + 1
	if sc.stored == nil && s.next > 0 {
		unused = max(s.next, sc.from, sc.usedTo+1)
	}
	runs := []seqRun{{sc.from, sc.to}}
	if sc.stored != nil {
		runs = sc.stored.within(sc.from, sc.to)
	}
	for _, r := range runs {
		for _, open := range sc.skip.minus(r.from, r.to) {
			for _, left := range out.kept.minus(open.from, open.to) {
				b.lostGaps(&out, left, lost, unused, sc.reason)
			}
		}
	}
	out.keptN = len(seqs) - len(lost)
	return out
}

// lostGaps adds the gaps of run r, none of whose numbers was salvaged:
// known counts where a record was read (lost), zero counts from unused on,
// unknown counts elsewhere.
func (b *Bolt) lostGaps(out *salvaged, r seqRun, lost map[uint64]int64, unused uint64, reason string) {
	var known []uint64
	for seq := range lost {
		if seq >= r.from && seq <= r.to {
			known = append(known, seq)
		}
	}
	slices.Sort(known)
	unknown := func(from, to uint64) {
		if from > to {
			return
		}
		if to >= unused {
			if from < unused {
				addGap(&out.gaps, Gap{FromSeq: from, ToSeq: unused - 1, Reason: unknownCount(reason)})
			}
			addGap(&out.gaps, Gap{FromSeq: max(from, unused), ToSeq: to, Reason: reason})
			return
		}
		addGap(&out.gaps, Gap{FromSeq: from, ToSeq: to, Reason: unknownCount(reason)})
	}
	next := r.from
	for _, seq := range known {
		unknown(next, seq-1)
		g := Gap{FromSeq: seq, ToSeq: seq, Batches: 1, Readings: uint64(lost[seq]), Reason: reason}
		if lost[seq] < 0 {
			g = Gap{FromSeq: seq, ToSeq: seq, Reason: unknownCount(reason)}
		}
		addGap(&out.gaps, g)
		out.lostN++
		next = seq + 1
	}
	unknown(next, r.to)
}

// storeAll stores closed batches in one transaction of db.
func (b *Bolt) storeAll(db *bolt.DB, batches []Batch) error {
	return updateTxn(db, b.log, func(x *txn) error {
		for i := range batches {
			if err := x.store(&batches[i]); err != nil {
				return err
			}
		}
		return x.flush()
	})
}

// addGaps adds gaps to the pending gaps of db.
func (b *Bolt) addGaps(db *bolt.DB, gaps []Gap) error {
	return updateTxn(db, b.log, func(x *txn) error {
		for _, g := range gaps {
			addGap(&x.gaps, g)
		}
		return nil
	})
}

// rebuild creates a fresh file numbering from next, with the gaps pending,
// salvages the damaged file (when it exists) into it within sc, and puts it
// in place of the damaged one, which is kept aside (hard-linked, so that a
// crash at any point leaves one of the two at path). It returns the fresh
// database, open, and a description for Recovered.
func (b *Bolt) rebuild(next uint64, gaps []Gap, sc salvageScope, cause error) (*bolt.DB, salvaged, string, error) {
	tmp := b.path + ".new"
	os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return nil, salvaged{}, "", fmt.Errorf("create a fresh buffer file: %w", err)
	}
	fail := func(err error) (*bolt.DB, salvaged, string, error) {
		closeQuietly(db)
		os.Remove(tmp)
		return nil, salvaged{}, "", err
	}
	if err := b.initFile(db, next, gaps); err != nil {
		return fail(fmt.Errorf("create a fresh buffer file: %w", err))
	}
	_, statErr := os.Stat(b.path)
	exists := statErr == nil
	sv := b.salvage(b.path, db, sc)
	if err := b.addGaps(db, sv.gaps); err != nil {
		return fail(fmt.Errorf("record the gaps of the damaged buffer file: %w", err))
	}
	desc := fmt.Sprintf("buffer file missing: sequence numbers %d to %d reported as a gap", sc.from, sc.to)
	if exists {
		aside := b.asideName()
		if err := os.Link(b.path, aside); err != nil {
			if err := os.Rename(b.path, aside); err != nil {
				return fail(fmt.Errorf("move the damaged buffer file aside: %w", err))
			}
		}
		desc = fmt.Sprintf("corrupt buffer file moved to %s: %v; %d batches salvaged, %d lost (%s)",
			aside, cause, sv.keptN, sv.lostN, describeGaps(sv.gaps))
		b.trimAside(aside)
	}
	if err := os.Rename(tmp, b.path); err != nil {
		return fail(fmt.Errorf("put the fresh buffer file in place: %w", err))
	}
	if err := atomicfile.SyncDir(filepath.Dir(b.path)); err != nil {
		b.log.Warn("buffer directory not synced after replacing the file", "err", err)
	}
	if err := os.Remove(b.path + checkingSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.log.Warn("buffer integrity-check marker not removed", "err", err)
	}
	b.pruneAside()
	return db, sv, desc, nil
}

// trimAside gives back the space reserved beyond the pages the damaged file
// at aside used: the copy is kept for analysis, its reservation is not.
func (b *Bolt) trimAside(aside string) {
	f, err := os.OpenFile(aside, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return
	}
	r, err := openRaw(f, fi.Size())
	if err != nil {
		return
	}
	if used := int64(r.meta.hwm) * r.ps; used >= 2*r.ps && used < fi.Size() {
		if err := f.Truncate(used); err != nil {
			b.log.Warn("space reserved for the damaged buffer file not given back", "err", err)
		}
	}
}

// describeGaps summarizes gaps for logs and health.
func describeGaps(gaps []Gap) string {
	if len(gaps) == 0 {
		return "no gap"
	}
	var parts []string
	for i, g := range gaps {
		if i == 4 {
			parts = append(parts, fmt.Sprintf("%d more", len(gaps)-i))
			break
		}
		if strings.HasSuffix(g.Reason, ReasonCountUnknown) {
			parts = append(parts, fmt.Sprintf("seq %d..%d readings unknown", g.FromSeq, g.ToSeq))
		} else {
			parts = append(parts, fmt.Sprintf("seq %d..%d %d batches %d readings", g.FromSeq, g.ToSeq, g.Batches, g.Readings))
		}
	}
	return strings.Join(parts, ", ")
}

// pendingOpen is a replacement of the file that OpenBolt decided and could
// not do yet (no room for a fresh file, say): commits retry it.
type pendingOpen struct {
	next  uint64
	scope salvageScope
	cause error
}

// replaceAtOpen replaces the damaged file found by OpenBolt (cause), or the
// missing one (cause nil) whose sidecar remains, by a fresh file numbering
// above the sidecar's reservation. Without a sidecar, numbering restarts at
// the Unix time in seconds, far above anything a gateway publishing less
// than a batch per second since 1970 can have used. When the fresh file
// cannot be created, the store opens without a file, keeps what it accepts
// in memory and retries at each commit.
//
// h is what the sidecar says the last process held in memory while its
// commits failed. Those batches reached no file when that process had none
// (it could not replace a damaged file either), or when the damaged file is
// still at the transaction h names: they are reported with their readings.
// Otherwise some may have reached the file; their numbers are reported
// with the file's, never as unused.
func (b *Bolt) replaceAtOpen(cause error, h held) {
	sc := salvageScope{from: max(b.res.low, 1), reason: ReasonCorruptBuffer}
	next := b.res.to
	if b.res.to <= 1 {
		next, sc.from = max(uint64(b.opts.now().Unix()), 2), 1
		b.log.Error("buffer sequence reservation missing, numbering restarts from the clock")
	}
	sc.to = next - 1
	if cause == nil {
		sc.reason = ReasonMissingBuffer
		cause = errors.New("buffer file missing")
	}
	if h.tx == 0 || (cause != nil && h.tx == fileTx(b.path)) {
		b.takeHeld(h)
	} else {
		for _, g := range h.gaps {
			sc.usedTo = max(sc.usedTo, g.ToSeq)
		}
	}
	for _, g := range b.carried {
		sc.skip.add(g.FromSeq, g.ToSeq)
	}
	b.open, b.next, b.broken = map[uint64]*openBatch{}, next, fmt.Errorf("%w: %w", ErrCorrupt, cause)
	b.reopen = &pendingOpen{next: next, scope: sc, cause: cause}
	if err := b.replaceLocked(); err != nil {
		b.recovered = fmt.Sprintf("damaged buffer file not replaced yet: %v; %v", err, cause)
		b.log.Error("damaged buffer file not replaced yet; operations are kept in memory", "err", err)
	}
}

// damagedLocked handles damage that bbolt found in the file of generation
// gen while in use (cause): it stops using that file and replaces it.
func (b *Bolt) damagedLocked(gen uint64, cause error) {
	if gen != b.gen || b.db == nil {
		return // replaced already, or being replaced
	}
	b.log.Error("buffer file damaged while in use; replacing it", "err", cause)
	b.markDamaged()
	b.dbMu.Lock()
	old := b.db
	b.db, b.broken = nil, cause
	b.gen++
	b.dbMu.Unlock()
	// After a panic in a commit bbolt may hold its write lock for good, so
	// Close could block: it must not hold up the store.
	go closeQuietly(old)
	if err := b.replaceLocked(); err != nil {
		b.log.Error("damaged buffer file not replaced yet; operations are kept in memory", "err", err)
	}
}

// replaceLocked replaces the damaged file: the fresh file numbers on from
// b.next (or as OpenBolt decided), keeps the pending gaps, holds what the
// salvage kept, and the open batches, kept in memory, are queued to be
// written into it again.
func (b *Bolt) replaceLocked() error {
	if b.db != nil {
		return nil
	}
	next, gaps, cause := b.next, b.gaps, b.broken
	sc := salvageScope{from: b.lowWaterLocked(b.next), to: b.next - 1, stored: &b.stored, reason: ReasonCorruptBuffer}
	if b.reopen != nil {
		next, gaps, cause, sc = b.reopen.next, nil, b.reopen.cause, b.reopen.scope
	} else {
		for seq := range b.open {
			sc.skip.add(seq, seq)
		}
		for _, gs := range [][]Gap{b.gaps, b.memGaps, b.carried} {
			for _, g := range gs {
				sc.skip.add(g.FromSeq, g.ToSeq)
			}
		}
	}
	db, sv, desc, err := b.rebuild(next, gaps, sc, cause)
	if err != nil {
		return err
	}
	if b.reopen != nil {
		// The gaps the sidecar carried are reported with the fresh file.
		b.reopen, b.memGaps, b.carried = nil, append(b.memGaps, b.carried...), nil
	}
	b.dbMu.Lock()
	b.db, b.broken = db, nil
	b.gen++
	b.dbMu.Unlock()
	if err := guard(func() error { return db.View(func(tx *bolt.Tx) error { b.tx = uint64(tx.ID()); return nil }) }); err != nil {
		b.log.Warn("transaction of the fresh buffer file not read", "err", err)
	}
	b.vmu.Lock()
	clear(b.verified)
	b.vmu.Unlock()
	b.recovered = desc
	b.log.Error("buffer file replaced", "err", errors.New(desc))
	b.space = space{target: b.opts.Reserve}
	b.space.grow(b.path, b.opts.Reserve, b.opts.now(), b.log)
	var keep []op
	for _, o := range b.pending {
		if o.kind == opAck {
			keep = append(keep, o)
		}
	}
	b.pending = nil
	for _, seq := range b.openSeqsLocked() {
		b.requeueLocked(seq, b.open[seq])
	}
	for _, o := range keep {
		b.queueLocked(o)
	}
	b.stored = sv.kept
	return b.viewLocked(func(x *txn) error {
		st, err := decodeState(x.meta.Get(keyState))
		if err != nil {
			return err
		}
		gaps, err := decodeGaps(x.meta.Get(keyGap))
		if err != nil && x.meta.Get(keyGap) != nil {
			return err
		}
		b.st, b.gaps = st, gaps
		b.oldestSeq, b.oldest, err = x.oldest()
		if b.st.closed > 0 {
			b.notifyLocked()
		}
		return err
	})
}
