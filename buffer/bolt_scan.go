package buffer

import (
	"bytes"
	"encoding/binary"
	"os"
	"slices"
	"sort"
)

// valueLoc is where a value lies in the damaged file.
type valueLoc struct {
	off int64
	n   uint32
}

// chunkLoc is where one chunk of a batch lies.
type chunkLoc struct {
	seq uint64
	idx uint32
	loc valueLoc
}

// scan is what a page-by-page read of a damaged file found.
type scan struct {
	f       *os.File
	records map[uint64][]valueLoc
	chunks  []chunkLoc // sorted by seq, then index
	next    uint64     // the highest next sequence number in a readable state
	gaps    []Gap      // pending gaps found
}

// scanFile reads every leaf page of the file at path. A file that cannot be
// opened yields an empty scan.
func scanFile(path string) *scan {
	s := &scan{records: map[uint64][]valueLoc{}}
	f, err := os.Open(path)
	if err != nil {
		return s
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return s
	}
	s.f = f
	ps := int64(os.Getpagesize())
	if r, err := openRaw(f, fi.Size()); err == nil {
		ps = r.ps
	}
	pages := uint64(fi.Size() / ps)
	head := make([]byte, pageHeaderSize)
	for id := uint64(2); id < pages; {
		if _, err := f.ReadAt(head, int64(id)*int64(ps)); err != nil {
			break
		}
		span := uint64(ne.Uint32(head[12:])) + 1
		if ne.Uint64(head) != id || ne.Uint16(head[8:]) != leafPage || span > pages-id || span > 1<<18 {
			id++
			continue
		}
		p := make([]byte, int64(span)*ps)
		if _, err := f.ReadAt(p, int64(id)*ps); err != nil {
			id++
			continue
		}
		s.leaf(p, int64(id)*ps, 0)
		id += span
	}
	sort.Slice(s.chunks, func(i, j int) bool {
		a, b := s.chunks[i], s.chunks[j]
		return a.seq < b.seq || (a.seq == b.seq && a.idx < b.idx)
	})
	return s
}

// leaf collects the elements of leaf page p, found at offset base of the
// file, and of the inline buckets it holds.
func (s *scan) leaf(p []byte, base int64, depth int) {
	elems, err := leafElements(p)
	if err != nil {
		return
	}
	for _, e := range elems {
		if !e.bucket {
			s.element(e.key, e.value, base+e.off)
			continue
		}
		if len(e.value) >= bucketHeaderSize+pageHeaderSize && ne.Uint64(e.value) == 0 && depth < 4 {
			if inline := e.value[bucketHeaderSize:]; ne.Uint16(inline[8:]) == leafPage {
				s.leaf(inline, base+e.off+bucketHeaderSize, depth+1)
			}
		}
	}
}

// element classifies one key by its shape: batch records have 8-byte keys,
// chunks 12-byte keys, and the meta bucket's keys are names.
func (s *scan) element(k, v []byte, off int64) {
	loc := valueLoc{off: off, n: uint32(len(v))}
	switch {
	case len(k) == 8:
		if _, err := decodeRecord(v); err == nil {
			seq := seqFromKey(k)
			s.records[seq] = append(s.records[seq], loc)
		}
	case len(k) == 12:
		s.chunks = append(s.chunks, chunkLoc{seq: seqFromKey(k), idx: binary.BigEndian.Uint32(k[8:]), loc: loc})
	case bytes.Equal(k, keyState):
		if st, err := decodeState(v); err == nil {
			s.next = max(s.next, st.next)
		}
	case bytes.Equal(k, keyGap):
		if gaps, err := decodeGaps(v); err == nil {
			for _, g := range gaps {
				if !slices.Contains(s.gaps, g) {
					s.gaps = append(s.gaps, g)
				}
			}
		}
	}
}

// value reads the value at loc.
func (s *scan) value(loc valueLoc) ([]byte, error) {
	b := make([]byte, loc.n)
	_, err := s.f.ReadAt(b, loc.off)
	return b, err
}

// close releases the file.
func (s *scan) close() {
	if s.f != nil {
		s.f.Close()
	}
}

// maxTries bounds the combinations of differing copies tried for a batch.
const maxTries = 16

// batch returns batch seq as found, when a closed copy of it passes verify,
// and otherwise the readings its best record states (-1 when none).
func (s *scan) batch(seq uint64, verify func(Batch) error) (Batch, int64, bool) {
	var recs []*record
	for _, loc := range s.records[seq] {
		if v, err := s.value(loc); err == nil {
			if r, err := decodeRecord(v); err == nil {
				recs = append(recs, r)
			}
		}
	}
	if len(recs) == 0 {
		return Batch{}, -1, false
	}
	// Closed copies first; among open ones (stale copies from freed pages
	// hold fewer chunks), the one with the most readings.
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].closed() != recs[j].closed() {
			return recs[i].closed()
		}
		return recs[i].readings > recs[j].readings
	})
	readings := recs[0].readings
	if verify == nil {
		return Batch{}, readings, false
	}
	i := sort.Search(len(s.chunks), func(i int) bool { return s.chunks[i].seq >= seq })
	for _, r := range recs {
		if !r.closed() || len(r.trailer) == 0 {
			break
		}
		copies := make([][][]byte, r.chunks) // distinct copies of each chunk
		for j := i; j < len(s.chunks) && s.chunks[j].seq == seq; j++ {
			c := s.chunks[j]
			if c.idx >= r.chunks {
				continue
			}
			v, err := s.value(c.loc)
			if err == nil && !slices.ContainsFunc(copies[c.idx], func(o []byte) bool { return bytes.Equal(o, v) }) {
				copies[c.idx] = append(copies[c.idx], v)
			}
		}
		if slices.ContainsFunc(copies, func(c [][]byte) bool { return len(c) == 0 }) {
			continue
		}
		bt := Batch{Seq: seq, Class: r.class, Header: r.header, Trailer: r.trailer, Readings: int(r.readings),
			Created: r.created, Chunks: make([][]byte, r.chunks)}
		for j := range copies {
			bt.Chunks[j] = copies[j][0]
		}
		if verify(bt) == nil {
			return bt, r.readings, true
		}
		tries := 1
		for j := range copies {
			for _, alt := range copies[j][1:] {
				if tries++; tries > maxTries {
					break
				}
				first := bt.Chunks[j]
				bt.Chunks[j] = alt
				if verify(bt) == nil {
					return bt, r.readings, true
				}
				bt.Chunks[j] = first
			}
		}
	}
	return Batch{}, readings, false
}
