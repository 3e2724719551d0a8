package buffer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// This file reads bbolt's on-disk format (go.etcd.io/bbolt v1, file format
// version 2) with ordinary reads, never through a memory map and never with
// bbolt's own code, so that any damage shows up as an error rather than as a
// panic or a memory fault. It backs the integrity check at open and the
// salvage of a damaged file. bbolt writes in native byte order; every
// platform edgegw runs on is little-endian, and binary.NativeEndian keeps
// that true on any other.

// Constants of bbolt's file format.
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16 // id uint64, flags uint16, count uint16, overflow uint32
	elementSize      = 16 // branch: pos, ksize uint32, pgid uint64; leaf: flags, pos, ksize, vsize uint32
	bucketHeaderSize = 16 // root pgid uint64, sequence uint64
	branchPage       = 0x01
	leafPage         = 0x02
	metaPage         = 0x04
	freelistPage     = 0x10
	bucketElement    = 0x01
	noFreelist       = ^uint64(0)
	maxTreeDepth     = 64
)

var ne = binary.NativeEndian

// errDamaged is wrapped by every finding of the raw reader.
var errDamaged = errors.New("damaged bbolt file")

func damaged(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errDamaged, fmt.Sprintf(format, args...))
}

// rawMeta is the content of a valid meta page.
type rawMeta struct {
	pageSize uint32
	root     uint64 // root page of the root bucket
	freelist uint64 // first page of the freelist, or noFreelist
	hwm      uint64 // high-water mark: pages in use are below it
	txid     uint64
}

// parseMeta decodes the meta that follows the page header in b and checks
// its magic, version and checksum.
func parseMeta(b []byte) (rawMeta, bool) {
	const size = 64 // 4 × uint32, bucket header, 3 × uint64, checksum
	if len(b) < pageHeaderSize+size || ne.Uint16(b[8:]) != metaPage {
		return rawMeta{}, false
	}
	m := b[pageHeaderSize : pageHeaderSize+size]
	h := fnv.New64a()
	h.Write(m[:56])
	if ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion || ne.Uint64(m[56:]) != h.Sum64() {
		return rawMeta{}, false
	}
	return rawMeta{pageSize: ne.Uint32(m[8:]), root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]),
		hwm: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}, true
}

// rawFile is a bbolt file read page by page.
type rawFile struct {
	f    io.ReaderAt
	size int64
	ps   int64   // page size
	meta rawMeta // the meta page bbolt would use
	buf  []byte
}

// openRaw reads the meta pages of the file f of size bytes and picks the one
// bbolt would use: the valid one with the higher transaction id.
func openRaw(f io.ReaderAt, size int64) (*rawFile, error) {
	first := make([]byte, 4096)
	n, _ := f.ReadAt(first, 0)
	first = first[:n]
	var metas []rawMeta
	if m, ok := parseMeta(first); ok {
		metas = append(metas, m)
	}
	// The second meta page is one page in; without a valid first one, the
	// page size is unknown: try them all, as bbolt does.
	for ps := int64(1024); ps <= 1<<24 && ps+pageHeaderSize+64 <= size; ps <<= 1 {
		if len(metas) == 1 && ps != int64(metas[0].pageSize) {
			continue
		}
		b := make([]byte, pageHeaderSize+64)
		if _, err := f.ReadAt(b, ps); err != nil {
			continue
		}
		if m, ok := parseMeta(b); ok && int64(m.pageSize) == ps {
			metas = append(metas, m)
			break
		}
	}
	if len(metas) == 0 {
		return nil, damaged("no valid meta page")
	}
	m := metas[0]
	if len(metas) == 2 && metas[1].txid > m.txid {
		m = metas[1]
	}
	if ps := int64(m.pageSize); ps < 512 || ps > 1<<24 || ps&(ps-1) != 0 {
		return nil, damaged("page size %d", m.pageSize)
	}
	return &rawFile{f: f, size: size, ps: int64(m.pageSize), meta: m}, nil
}

// fileTx returns the transaction id of the meta page bbolt would use in the
// file at path, or 0 when no meta page is valid.
func fileTx(path string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	r, err := openRaw(f, fi.Size())
	if err != nil {
		return 0
	}
	return r.meta.txid
}

// pages returns the number of whole pages in the file.
func (r *rawFile) pages() uint64 { return uint64(r.size / r.ps) }

// page reads page id with its overflow pages, up to limit pages in all. The
// slice is valid until the next call.
func (r *rawFile) page(id, limit uint64) ([]byte, error) {
	if id >= limit {
		return nil, damaged("page %d beyond page %d", id, limit)
	}
	b, err := r.read(id, 1)
	if err != nil {
		return nil, err
	}
	if got := ne.Uint64(b); got != id {
		return nil, damaged("page %d identifies as page %d", id, got)
	}
	if over := uint64(ne.Uint32(b[12:])); over > 0 {
		if over >= limit-id {
			return nil, damaged("page %d overflows %d pages beyond page %d", id, over, limit)
		}
		return r.read(id, over+1)
	}
	return b, nil
}

func (r *rawFile) read(id, n uint64) ([]byte, error) {
	size := int64(n) * r.ps
	if size > 1<<30 {
		return nil, damaged("page %d spans %d pages", id, n)
	}
	if int64(cap(r.buf)) < size {
		r.buf = make([]byte, size)
	}
	b := r.buf[:size]
	if _, err := r.f.ReadAt(b, int64(id)*r.ps); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, damaged("page %d beyond the end of the file", id)
		}
		return nil, fmt.Errorf("read page %d: %w", id, err)
	}
	return b, nil
}

// element is one key of a leaf page: a value, or a bucket when bucket is set.
type element struct {
	key, value []byte
	bucket     bool
	off        int64 // offset of value within the page slice it came from
}

// leafElements decodes the elements of the leaf page p (header included).
func leafElements(p []byte) ([]element, error) {
	count := int(ne.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > len(p) {
		return nil, damaged("leaf page of %d bytes with %d elements", len(p), count)
	}
	out := make([]element, count)
	for i := range count {
		at := pageHeaderSize + i*elementSize
		pos, ksize, vsize := int(ne.Uint32(p[at+4:])), int(ne.Uint32(p[at+8:])), int(ne.Uint32(p[at+12:]))
		k := at + pos
		if pos < 0 || ksize < 0 || vsize < 0 || k < at || k+ksize+vsize > len(p) || k+ksize+vsize < k {
			return nil, damaged("leaf element %d out of its page", i)
		}
		out[i] = element{key: p[k : k+ksize], value: p[k+ksize : k+ksize+vsize],
			bucket: ne.Uint32(p[at:])&bucketElement != 0, off: int64(k + ksize)}
	}
	return out, nil
}

// branchElement is one key of a branch page and the child page it leads to.
type branchElement struct {
	key   []byte
	child uint64
}

func branchElements(p []byte) ([]branchElement, error) {
	count := int(ne.Uint16(p[10:]))
	if count == 0 || pageHeaderSize+count*elementSize > len(p) {
		return nil, damaged("branch page of %d bytes with %d elements", len(p), count)
	}
	out := make([]branchElement, count)
	for i := range count {
		at := pageHeaderSize + i*elementSize
		pos, ksize := int(ne.Uint32(p[at:])), int(ne.Uint32(p[at+4:]))
		k := at + pos
		if pos < 0 || ksize < 0 || k < at || k+ksize > len(p) {
			return nil, damaged("branch element %d out of its page", i)
		}
		out[i] = branchElement{key: append([]byte(nil), p[k:k+ksize]...), child: ne.Uint64(p[at+8:])}
	}
	return out, nil
}

// freelist returns the page ids the freelist lists (free and pending), and
// the freelist's own pages.
func (r *rawFile) freelist() (ids []uint64, first, n uint64, err error) {
	m := r.meta
	if m.freelist == noFreelist {
		return nil, 0, 0, nil
	}
	if m.freelist < 2 || m.freelist >= m.hwm {
		return nil, 0, 0, damaged("freelist at page %d, outside 2 to %d", m.freelist, m.hwm)
	}
	p, err := r.page(m.freelist, m.hwm)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("freelist: %w", err)
	}
	if flags := ne.Uint16(p[8:]); flags != freelistPage {
		return nil, 0, 0, damaged("freelist page %d has type %#x", m.freelist, flags)
	}
	count, at := uint64(ne.Uint16(p[10:])), uint64(pageHeaderSize)
	if count == 0xFFFF {
		count, at = ne.Uint64(p[at:]), at+8
	}
	if count > (uint64(len(p))-at)/8 {
		return nil, 0, 0, damaged("freelist of %d pages in %d bytes", count, len(p))
	}
	ids = make([]uint64, count)
	for i := range ids {
		ids[i] = ne.Uint64(p[at+8*uint64(i):])
	}
	return ids, m.freelist, uint64(ne.Uint32(p[12:])) + 1, nil
}

// bitset is a set of page ids below a bound.
type bitset []uint64

func newBitset(n uint64) bitset    { return make(bitset, (n+63)/64) }
func (s bitset) has(i uint64) bool { return s[i/64]&(1<<(i%64)) != 0 }
func (s bitset) add(i uint64)      { s[i/64] |= 1 << (i % 64) }
func (s bitset) addRange(i, n uint64) {
	for j := i; j < i+n; j++ {
		s.add(j)
	}
}

// check verifies the structure of the file as bbolt would rely on it: the
// file holds every page below the high-water mark; the freelist lists only
// data pages (never a meta page, its own pages or a page in use) and none
// twice; every page of the tree is a branch or leaf page that says its own
// number, is referenced once, holds its elements within its bounds with keys
// in order; and every page below the high-water mark is either in use or
// free.
func (r *rawFile) check() error {
	m := r.meta
	if m.hwm < 2 || m.hwm > r.pages() {
		return damaged("high-water mark at page %d, file holds %d pages", m.hwm, r.pages())
	}
	used, free := newBitset(m.hwm), newBitset(m.hwm)
	used.addRange(0, 2)
	ids, first, n, err := r.freelist()
	if err != nil {
		return err
	}
	if n > 0 {
		if first+n > m.hwm {
			return damaged("freelist pages %d+%d beyond page %d", first, n, m.hwm)
		}
		used.addRange(first, n)
	}
	for _, id := range ids {
		switch {
		case id < 2:
			return damaged("freelist lists meta page %d", id)
		case id >= m.hwm:
			return damaged("freelist lists page %d beyond page %d", id, m.hwm)
		case used.has(id):
			return damaged("freelist lists its own page %d", id)
		case free.has(id):
			return damaged("freelist lists page %d twice", id)
		}
		free.add(id)
	}
	w := walker{r: r, used: used, free: free}
	if err := w.tree(m.root, nil, nil, 0); err != nil {
		return err
	}
	for id := uint64(2); id < m.hwm; id++ {
		if !used.has(id) && !free.has(id) {
			return damaged("page %d neither in use nor free", id)
		}
	}
	return nil
}

// walker walks the page tree for check.
type walker struct {
	r          *rawFile
	used, free bitset
}

// tree checks the subtree at page id, whose keys must lie in [lo, hi) (nil:
// unbounded).
func (w *walker) tree(id uint64, lo, hi []byte, depth int) error {
	if depth > maxTreeDepth {
		return damaged("page tree deeper than %d at page %d", maxTreeDepth, id)
	}
	hwm := w.r.meta.hwm
	if id < 2 || id >= hwm {
		return damaged("tree references page %d, outside 2 to %d", id, hwm)
	}
	if w.used.has(id) {
		return damaged("page %d referenced twice", id)
	}
	if w.free.has(id) {
		return damaged("page %d in use but listed free", id)
	}
	p, err := w.r.page(id, hwm)
	if err != nil {
		return err
	}
	span := uint64(len(p)) / uint64(w.r.ps)
	for i := id + 1; i < id+span; i++ {
		if w.used.has(i) || w.free.has(i) {
			return damaged("overflow page %d of page %d also in use or free", i, id)
		}
	}
	w.used.addRange(id, span)
	switch flags := ne.Uint16(p[8:]); flags {
	case branchPage:
		elems, err := branchElements(p)
		if err != nil {
			return fmt.Errorf("page %d: %w", id, err)
		}
		for i, e := range elems {
			if (i > 0 && bytes.Compare(elems[i-1].key, e.key) >= 0) || (lo != nil && bytes.Compare(e.key, lo) < 0 && i > 0) || (hi != nil && bytes.Compare(e.key, hi) >= 0) {
				return damaged("page %d: branch key %d out of order", id, i)
			}
		}
		for i, e := range elems {
			childLo, childHi := e.key, hi
			if i == 0 {
				childLo = lo
			}
			if i+1 < len(elems) {
				childHi = elems[i+1].key
			}
			if err := w.tree(e.child, childLo, childHi, depth+1); err != nil {
				return err
			}
		}
		return nil
	case leafPage:
		return w.leaf(id, p, lo, hi, depth)
	default:
		return damaged("page %d in the tree has type %#x", id, flags)
	}
}

// leaf checks the elements of leaf page p and the buckets it holds.
func (w *walker) leaf(id uint64, p, lo, hi []byte, depth int) error {
	elems, err := leafElements(p)
	if err != nil {
		return fmt.Errorf("page %d: %w", id, err)
	}
	var buckets [][]byte // copied: reading subtrees reuses the page buffer
	for i, e := range elems {
		if (i > 0 && bytes.Compare(elems[i-1].key, e.key) >= 0) || (lo != nil && bytes.Compare(e.key, lo) < 0) || (hi != nil && bytes.Compare(e.key, hi) >= 0) {
			return damaged("page %d: key %d out of order", id, i)
		}
		if e.bucket {
			if len(e.value) < bucketHeaderSize {
				return damaged("page %d: bucket %q header of %d bytes", id, e.key, len(e.value))
			}
			buckets = append(buckets, append([]byte(nil), e.value...))
		}
	}
	for _, v := range buckets {
		if err := w.bucket(id, v, depth); err != nil {
			return err
		}
	}
	return nil
}

// bucket checks the bucket whose header (and inline page) is v.
func (w *walker) bucket(id uint64, v []byte, depth int) error {
	if root := ne.Uint64(v); root != 0 {
		return w.tree(root, nil, nil, depth+1)
	}
	inline := v[bucketHeaderSize:]
	if len(inline) < pageHeaderSize || ne.Uint16(inline[8:]) != leafPage {
		return damaged("page %d: inline bucket is not a leaf page", id)
	}
	if depth > maxTreeDepth {
		return damaged("buckets nested deeper than %d", maxTreeDepth)
	}
	return w.leaf(id, inline, nil, nil, depth+1)
}

// rawCheck checks the bbolt file at path without opening it with bbolt.
func rawCheck(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	r, err := openRaw(f, fi.Size())
	if err != nil {
		return err
	}
	return r.check()
}
