package backend

// seqSet tracks the sequence numbers received from one gateway and the ranges
// its gap records covered.
type seqSet struct {
	seen    map[uint64][32]byte // sequence number → SHA-256 of its header
	covered [][2]uint64
	max     uint64
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
	s.max = max(s.max, seq)
	return true, false
}

// cover records that a gap record accounted for from..to.
func (s *seqSet) cover(from, to uint64) { s.covered = append(s.covered, [2]uint64{from, to}) }

func (s *seqSet) isCovered(seq uint64) bool {
	for _, c := range s.covered {
		if seq >= c[0] && seq <= c[1] {
			return true
		}
	}
	return false
}

// missingList returns the numbers in 1..max neither received nor covered.
func (s *seqSet) missingList() []uint64 {
	var out []uint64
	for seq := uint64(1); seq <= s.max; seq++ {
		if _, ok := s.seen[seq]; !ok && !s.isCovered(seq) {
			out = append(out, seq)
		}
	}
	return out
}

func (s *seqSet) missing() uint64 { return uint64(len(s.missingList())) }
