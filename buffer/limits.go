package buffer

import (
	"iter"
	"slices"
	"strings"
	"time"
)

// GapClass is the data class of the batches TakeGap stores. The limits drop
// gap batches only when no other closed batch is left to drop.
const GapClass = "gap"

// AuditClass is the data class of audit records stored with Put. Like gap
// batches, they are dropped only once no batch of readings is left.
const AuditClass = "audit"

// isRecord reports whether class holds the gateway's own signed records
// (gap and audit) rather than readings.
func isRecord(class string) bool { return class == GapClass || class == AuditClass }

// Reasons a Gap can carry. Reason names one cause; a gap whose counts are
// not known adds ReasonCountUnknown after a comma.
const (
	// ReasonMaxBytes means batches were dropped because of Options.MaxBytes.
	ReasonMaxBytes = "max-bytes"
	// ReasonMaxAge means batches were dropped because of Options.MaxAge.
	ReasonMaxAge = "max-age"
	// ReasonDiskFull means batches were dropped, oldest first, because the
	// filesystem had no room for them: the file could not grow to take a
	// commit, or commits failed and the operations waiting in memory
	// exceeded Options.MaxPending or the store was closed.
	ReasonDiskFull = "disk-full"
	// ReasonCorruptBuffer means the buffer file was damaged and replaced:
	// batches in the gap were in the damaged file and could not be salvaged
	// (their signature did not verify, or they were still open).
	ReasonCorruptBuffer = "corrupt-buffer"
	// ReasonMissingBuffer means the buffer file disappeared while its
	// sequence reservation remained, as after a manual deletion.
	ReasonMissingBuffer = "missing-buffer"
	// ReasonDamagedBatch means a stored batch failed Options.Verify when it
	// was read for publishing: it was deleted instead of published.
	ReasonDamagedBatch = "damaged-batch"
	// ReasonCountUnknown follows another reason when the gap's Batches and
	// Readings are not known (they are zero): the sequence numbers were in
	// a part of a damaged or missing file that could not be read, and may
	// also include batches already delivered.
	ReasonCountUnknown = "count-unknown"
)

// unknownCount returns reason marked as having unknown counts.
func unknownCount(reason string) string { return reason + "," + ReasonCountUnknown }

// entry is what the limits need to know about one stored batch.
type entry struct {
	seq      uint64
	class    string
	closed   bool
	created  time.Time
	bytes    int64
	readings int64
}

// drop is a batch the limits decided to drop, and why.
type drop struct {
	entry
	reason string
}

// limit is what planDrops enforces: a bound on the bytes stored (none when
// zero or less), the reason its drops carry, and an age bound.
type limit struct {
	bytes  int64
	reason string
	maxAge time.Duration
}

// limitOf returns the limits of o.
func limitOf(o Options) limit {
	return limit{bytes: o.MaxBytes, reason: ReasonMaxBytes, maxAge: o.MaxAge}
}

// planDrops returns the batches to drop so that the store fits l, given its
// batches in ascending sequence order and its total bytes. Open batches are
// never dropped; gap and audit batches only once no other closed batch is
// left. Batches are assumed to be created in sequence order: the age check
// stops at the first batch younger than MaxAge.
func planDrops(entries iter.Seq[entry], bytes int64, l limit, now time.Time) []drop {
	if l.bytes <= 0 && l.maxAge <= 0 {
		return nil
	}
	cutoff := now.Add(-l.maxAge)
	var out []drop
	for _, gapPass := range []bool{false, true} {
		for e := range entries {
			overBytes := l.bytes > 0 && bytes > l.bytes
			old := l.maxAge > 0 && e.created.Before(cutoff)
			if !overBytes && !old {
				break
			}
			if !e.closed || isRecord(e.class) != gapPass {
				continue
			}
			reason := ReasonMaxAge
			if overBytes {
				reason = l.reason
			}
			out = append(out, drop{entry: e, reason: reason})
			bytes -= e.bytes
		}
	}
	return out
}

// maxGaps bounds the number of pending gaps; beyond it, drops widen the
// newest gap instead of starting another (its Batches and Readings stay
// exact, its range then also covers numbers that were not dropped).
const maxGaps = 32

// addToGap records one dropped batch in the pending gaps: it extends a gap
// with the same reason that ends just before seq, or starts a new one.
func addToGap(gaps *[]Gap, seq uint64, readings int64, reason string) {
	addGap(gaps, Gap{FromSeq: seq, ToSeq: seq, Batches: 1, Readings: uint64(readings), Reason: reason})
}

// addGap adds g to the pending gaps, merged into a gap with the same reason
// that it adjoins, or into the newest one when there are maxGaps already.
func addGap(gaps *[]Gap, g Gap) {
	for i := len(*gaps) - 1; i >= 0; i-- {
		p := &(*gaps)[i]
		if p.Reason == g.Reason && (p.ToSeq+1 == g.FromSeq || g.ToSeq+1 == p.FromSeq) {
			mergeGap(p, g)
			return
		}
	}
	if n := len(*gaps); n >= maxGaps {
		p := &(*gaps)[n-1]
		mergeGap(p, g)
		p.Reason = mergeReasons(p.Reason, g.Reason)
		return
	}
	*gaps = append(*gaps, g)
}

// mergeReasons returns the reasons of a and b, each once, in order, with
// ReasonCountUnknown last.
func mergeReasons(a, b string) string {
	var out []string
	unknown := false
	for r := range strings.SplitSeq(a+","+b, ",") {
		switch {
		case r == ReasonCountUnknown:
			unknown = true
		case !slices.Contains(out, r):
			out = append(out, r)
		}
	}
	if unknown {
		out = append(out, ReasonCountUnknown)
	}
	return strings.Join(out, ",")
}

func mergeGap(p *Gap, g Gap) {
	p.FromSeq, p.ToSeq = min(p.FromSeq, g.FromSeq), max(p.ToSeq, g.ToSeq)
	p.Batches += g.Batches
	p.Readings += g.Readings
}

// batchBytes is the size a batch counts against MaxBytes.
func batchBytes(b *Batch) int64 {
	n := len(b.Header) + len(b.Trailer)
	for _, c := range b.Chunks {
		n += len(c)
	}
	return int64(n)
}

// cloneBatch returns a deep copy of b, so callers and the store never share
// memory.
func cloneBatch(b *Batch) Batch {
	c := *b
	c.Header = clone(b.Header)
	c.Trailer = clone(b.Trailer)
	c.Chunks = make([][]byte, len(b.Chunks))
	for i, ch := range b.Chunks {
		c.Chunks[i] = clone(ch)
	}
	return c
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
