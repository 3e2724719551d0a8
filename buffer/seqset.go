package buffer

import "sort"

// seqRun is the sequence numbers from through to, inclusive.
type seqRun struct{ from, to uint64 }

// seqSet is a set of sequence numbers kept as sorted, disjoint, non-adjacent
// runs, so that its size follows the number of holes, not of numbers.
type seqSet struct{ runs []seqRun }

// add adds from..to.
func (s *seqSet) add(from, to uint64) {
	i := sort.Search(len(s.runs), func(i int) bool { return s.runs[i].to+1 >= from })
	j := i
	for ; j < len(s.runs) && s.runs[j].from <= to+1; j++ {
		from, to = min(from, s.runs[j].from), max(to, s.runs[j].to)
	}
	s.runs = append(s.runs[:i], append([]seqRun{{from, to}}, s.runs[j:]...)...)
}

// remove removes seq.
func (s *seqSet) remove(seq uint64) {
	i := sort.Search(len(s.runs), func(i int) bool { return s.runs[i].to >= seq })
	if i == len(s.runs) || s.runs[i].from > seq {
		return
	}
	r := s.runs[i]
	switch {
	case r.from == seq && r.to == seq:
		s.runs = append(s.runs[:i], s.runs[i+1:]...)
	case r.from == seq:
		s.runs[i].from++
	case r.to == seq:
		s.runs[i].to--
	default:
		s.runs[i].to = seq - 1
		s.runs = append(s.runs[:i+1], append([]seqRun{{seq + 1, r.to}}, s.runs[i+1:]...)...)
	}
}

// has reports whether seq is in the set.
func (s *seqSet) has(seq uint64) bool {
	i := sort.Search(len(s.runs), func(i int) bool { return s.runs[i].to >= seq })
	return i < len(s.runs) && s.runs[i].from <= seq
}

// within returns the runs of s clipped to from..to.
func (s *seqSet) within(from, to uint64) []seqRun {
	var out []seqRun
	for _, r := range s.runs {
		if r.to < from || r.from > to {
			continue
		}
		out = append(out, seqRun{max(r.from, from), min(r.to, to)})
	}
	return out
}

// minus returns the runs of from..to that are not in s.
func (s *seqSet) minus(from, to uint64) []seqRun {
	var out []seqRun
	next := from
	for _, r := range s.within(from, to) {
		if r.from > next {
			out = append(out, seqRun{next, r.from - 1})
		}
		next = r.to + 1
		if r.to == to {
			return out
		}
	}
	if next <= to {
		out = append(out, seqRun{next, to})
	}
	return out
}
