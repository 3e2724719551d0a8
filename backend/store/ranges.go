package store

// appendRange adds from..to to rs, a list of ascending, disjoint, merged
// inclusive ranges whose last range starts at or below from, merging it with
// the last range when they overlap or touch.
func appendRange(rs [][2]uint64, from, to uint64) [][2]uint64 {
	if n := len(rs); n > 0 && from <= rs[n-1][1]+1 {
		rs[n-1][1] = max(rs[n-1][1], to)
		return rs
	}
	return append(rs, [2]uint64{from, to})
}

// gapRow is a committed gap record: its own sequence number and the range it
// accounts for.
type gapRow struct {
	seq, from, to, readings uint64
	reason                  string
}

// missingRanges returns the sequence numbers 1..top that received (ascending,
// disjoint ranges of batch rows) lacks, where top is the highest committed
// sequence number of received and gaps (gap records in ascending order of
// from, then of seq), split by cause. Where gap records overlap, the first in
// that order accounts for the overlap. Its cost is linear in the number of
// ranges.
func missingRanges(gateway string, received [][2]uint64, gaps []gapRow) []MissingRange {
	var top uint64
	if n := len(received); n > 0 {
		top = received[n-1][1]
	}
	// segs: the gap records' ranges made disjoint, with the record of each.
	type seg struct {
		from, to uint64
		rec      *gapRow
	}
	var segs []seg
	var covered uint64
	for i := range gaps {
		g := &gaps[i]
		top = max(top, g.to)
		if from := max(g.from, covered+1); from <= g.to {
			segs = append(segs, seg{from, g.to, g})
			covered = g.to
		}
	}
	var out []MissingRange
	si := 0
	hole := func(from, to uint64) {
		for p := from; p <= to; {
			for si < len(segs) && segs[si].to < p {
				si++
			}
			if si == len(segs) || segs[si].from > to {
				out = append(out, MissingRange{Gateway: gateway, From: p, To: to, Cause: CauseNotReceived})
				return
			}
			s := segs[si]
			if s.from > p {
				out = append(out, MissingRange{Gateway: gateway, From: p, To: s.from - 1, Cause: CauseNotReceived})
				p = s.from
			}
			end := min(s.to, to)
			out = append(out, MissingRange{Gateway: gateway, From: p, To: end, Cause: CauseGapRecord,
				Reason: s.rec.reason, RecordSeq: s.rec.seq, Readings: s.rec.readings})
			p = end + 1
		}
	}
	next := uint64(1)
	for _, r := range received {
		if r[0] > next {
			hole(next, r[0]-1)
		}
		next = r[1] + 1
	}
	if next <= top {
		hole(next, top)
	}
	return out
}
