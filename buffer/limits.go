package buffer

import (
	"iter"
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

// Reasons a Gap can carry. When several causes add to one pending gap, its
// Reason lists them separated by commas, in the order they occurred.
const (
	// ReasonMaxBytes means batches were dropped because of Options.MaxBytes.
	ReasonMaxBytes = "max-bytes"
	// ReasonMaxAge means batches were dropped because of Options.MaxAge.
	ReasonMaxAge = "max-age"
	// ReasonCorruptBuffer means the buffer file was corrupt and replaced:
	// the sequence numbers in the gap may have been used by batches that
	// are lost. Their count is unknown, so Batches and Readings are zero.
	ReasonCorruptBuffer = "corrupt-buffer"
	// ReasonMissingBuffer means the buffer file disappeared while its
	// sequence reservation remained, as after a manual deletion. As for
	// ReasonCorruptBuffer, the counts are unknown.
	ReasonMissingBuffer = "missing-buffer"
)

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

// planDrops returns the batches to drop so that the store fits its limits,
// given its batches in ascending sequence order and its total bytes. Open
// batches are never dropped; gap and audit batches only once no other closed
// batch is left. Batches are assumed to be created in sequence order: the age check
// stops at the first batch younger than MaxAge.
func planDrops(entries iter.Seq[entry], bytes int64, o Options, now time.Time) []drop {
	if o.MaxBytes <= 0 && o.MaxAge <= 0 {
		return nil
	}
	cutoff := now.Add(-o.MaxAge)
	var out []drop
	for _, gapPass := range []bool{false, true} {
		for e := range entries {
			overBytes := o.MaxBytes > 0 && bytes > o.MaxBytes
			old := o.MaxAge > 0 && e.created.Before(cutoff)
			if !overBytes && !old {
				break
			}
			if !e.closed || isRecord(e.class) != gapPass {
				continue
			}
			reason := ReasonMaxAge
			if overBytes {
				reason = ReasonMaxBytes
			}
			out = append(out, drop{entry: e, reason: reason})
			bytes -= e.bytes
		}
	}
	return out
}

// addToGap records one dropped batch in the pending gap g.
func addToGap(g *Gap, seq uint64, readings int64, reason string) {
	addRange(g, seq, seq, reason)
	g.Batches++
	g.Readings += uint64(readings)
}

// addRange widens the pending gap g to cover from..to and adds reason.
func addRange(g *Gap, from, to uint64, reason string) {
	if g.Reason == "" {
		*g = Gap{FromSeq: from, ToSeq: to, Reason: reason}
		return
	}
	g.FromSeq = min(g.FromSeq, from)
	g.ToSeq = max(g.ToSeq, to)
	if !strings.Contains(","+g.Reason+",", ","+reason+",") {
		g.Reason += "," + reason
	}
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
