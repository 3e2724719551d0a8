package backend

import (
	"maps"
	"math"
	"slices"
	"sort"
)

// ranges is a set of sequence numbers kept as ascending, disjoint, merged
// inclusive ranges: memory grows with the number of holes, never with the
// size of the numbers (a gateway may jump to seq 1,796,130,271).
type ranges [][2]uint64

// add inserts from..to (from <= to).
func (rs *ranges) add(from, to uint64) {
	s := *rs
	touches := func(end, v uint64) bool { return end >= v || end == v-1 } // v > 0 here
	i := sort.Search(len(s), func(k int) bool { return s[k][1] >= from || (from > 0 && touches(s[k][1], from)) })
	j := i
	for j < len(s) && (s[j][0] <= to || (to < math.MaxUint64 && s[j][0] == to+1)) {
		from, to = min(from, s[j][0]), max(to, s[j][1])
		j++
	}
	*rs = slices.Replace(s, i, j, [2]uint64{from, to})
}

// contains reports whether seq is in the set.
func (rs ranges) contains(seq uint64) bool {
	_, ok := slices.BinarySearchFunc(rs, seq, func(r [2]uint64, v uint64) int {
		switch {
		case r[1] < v:
			return -1
		case r[0] > v:
			return 1
		}
		return 0
	})
	return ok
}

// holes returns the ranges of lo..hi that are not in the set.
func (rs ranges) holes(lo, hi uint64) ranges {
	var out ranges
	next := lo
	for _, r := range rs {
		if r[1] < next {
			continue
		}
		if r[0] > hi {
			break
		}
		if r[0] > next {
			out = append(out, [2]uint64{next, r[0] - 1})
		}
		if r[1] >= hi {
			return out
		}
		next = r[1] + 1
	}
	if next <= hi {
		out = append(out, [2]uint64{next, hi})
	}
	return out
}

// count returns how many numbers the set holds.
func (rs ranges) count() uint64 {
	var n uint64
	for _, r := range rs {
		n += r[1] - r[0] + 1
	}
	return n
}

// seqSet tracks the sequence numbers received from one gateway and the ranges
// its gap records covered.
type seqSet struct {
	seen map[uint64][32]byte // sequence number → SHA-256 of its header
	got  ranges              // received or covered by a gap record
	max  uint64
}

func newSeqSet() *seqSet { return &seqSet{seen: map[uint64][32]byte{}} }

// add records seq with its header hash. It reports whether seq was new and,
// for a number seen before, whether it came with another header: a reused
// sequence number, which a gateway must never produce.
func (s *seqSet) add(seq uint64, header [32]byte) (isNew, reused bool) {
	if prev, dup := s.seen[seq]; dup {
		return false, prev != header
	}
	s.seen[seq] = header
	s.got.add(seq, seq)
	s.max = max(s.max, seq)
	return true, false
}

// cover records that a gap record accounted for from..to.
func (s *seqSet) cover(from, to uint64) { s.got.add(from, to) }

// received returns the numbers received, as ranges.
func (s *seqSet) received() ranges {
	keys := slices.Sorted(maps.Keys(s.seen))
	var out ranges
	for _, k := range keys {
		if n := len(out); n > 0 && out[n-1][1] == k-1 {
			out[n-1][1] = k
		} else {
			out = append(out, [2]uint64{k, k})
		}
	}
	return out
}

// missing returns the ranges of 1..max neither received nor covered.
func (s *seqSet) missing() ranges {
	if s.max == 0 {
		return nil
	}
	return s.got.holes(1, s.max)
}
