package buffer

import (
	"encoding/binary"
	"errors"
	"time"
)

// On-disk encodings. Every value starts with a format version byte so that a
// later release can change it; records are built with encoding/binary.

const (
	recordVersion = 1
	stateVersion  = 1
	gapVersion    = 1 // one pending gap, as releases before the gap list wrote it
	gapsVersion   = 2 // a list of pending gaps
	schemaVersion = 1
)

var errDecode = errors.New("malformed record")

// record is the value stored under a batch's key in the batches bucket.
type record struct {
	class    string
	created  time.Time
	readings int64
	bytes    int64 // header + chunks + trailer
	chunks   uint32
	header   []byte
	trailer  []byte // nil while open
}

func (r *record) closed() bool { return r.trailer != nil }

func (r *record) entry(seq uint64) entry {
	return entry{seq: seq, class: r.class, closed: r.closed(), created: r.created, bytes: r.bytes, readings: r.readings}
}

func (r *record) encode() []byte {
	b := make([]byte, 0, 40+len(r.class)+len(r.header)+len(r.trailer))
	var flags byte
	if r.closed() {
		flags = 1
	}
	b = append(b, recordVersion, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(r.created.UnixNano()))
	b = binary.AppendUvarint(b, uint64(r.readings))
	b = binary.AppendUvarint(b, uint64(r.bytes))
	b = binary.AppendUvarint(b, uint64(r.chunks))
	b = appendBytes(b, []byte(r.class))
	b = appendBytes(b, r.header)
	return appendBytes(b, r.trailer)
}

func decodeRecord(b []byte) (*record, error) {
	d := decoder{b: b}
	if d.byte() != recordVersion {
		return nil, errDecode
	}
	flags := d.byte()
	r := &record{created: time.Unix(0, int64(d.uint64()))}
	r.readings = int64(d.uvarint())
	r.bytes = int64(d.uvarint())
	r.chunks = uint32(d.uvarint())
	r.class = string(d.bytes())
	r.header = d.bytes()
	r.trailer = d.bytes()
	if flags&1 != 0 && r.trailer == nil {
		r.trailer = []byte{}
	}
	if flags&1 == 0 {
		r.trailer = nil
	}
	return r, d.err()
}

// state is the value of the state key in the meta bucket: the counters that
// Stats reports, kept up to date by every commit.
type state struct {
	next            uint64
	bytes           int64
	readings        int64
	closed          int64
	open            int64
	droppedBatches  uint64
	droppedReadings uint64
}

func (s *state) encode() []byte {
	b := []byte{stateVersion}
	for _, v := range []uint64{s.next, uint64(s.bytes), uint64(s.readings), uint64(s.closed), uint64(s.open), s.droppedBatches, s.droppedReadings} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

func decodeState(b []byte) (state, error) {
	d := decoder{b: b}
	if d.byte() != stateVersion {
		return state{}, errDecode
	}
	s := state{next: d.uint64(), bytes: int64(d.uint64()), readings: int64(d.uint64()),
		closed: int64(d.uint64()), open: int64(d.uint64()), droppedBatches: d.uint64(), droppedReadings: d.uint64()}
	return s, d.err()
}

// encodeGaps encodes the pending gaps: version 2, their count, then each
// gap's from, to, batches and readings (uint64) and reason.
func encodeGaps(gaps []Gap) []byte {
	b := binary.AppendUvarint([]byte{gapsVersion}, uint64(len(gaps)))
	for _, g := range gaps {
		for _, v := range []uint64{g.FromSeq, g.ToSeq, g.Batches, g.Readings} {
			b = binary.BigEndian.AppendUint64(b, v)
		}
		b = appendBytes(b, []byte(g.Reason))
	}
	return b
}

// decodeGaps decodes what encodeGaps writes, and the single gap of version 1.
func decodeGaps(b []byte) ([]Gap, error) {
	d := decoder{b: b}
	n := uint64(1)
	switch d.byte() {
	case gapVersion:
	case gapsVersion:
		if n = d.uvarint(); n > uint64(len(b))/33 {
			return nil, errDecode
		}
	default:
		return nil, errDecode
	}
	gaps := make([]Gap, n)
	for i := range gaps {
		g := Gap{FromSeq: d.uint64(), ToSeq: d.uint64(), Batches: d.uint64(), Readings: d.uint64()}
		g.Reason = string(d.bytes())
		if g.Reason == "" || g.FromSeq > g.ToSeq {
			return nil, errDecode
		}
		gaps[i] = g
	}
	return gaps, d.err()
}

// seqKey is the key of batch seq: 8 bytes big-endian, so keys sort by seq.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// chunkKey is the key of chunk i of batch seq: seqKey(seq) then i as 4 bytes
// big-endian.
func chunkKey(seq uint64, i uint32) []byte {
	return binary.BigEndian.AppendUint32(seqKey(seq), i)
}

func appendBytes(b, v []byte) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

// decoder reads what the encoders above write; it remembers the first error
// and copies byte slices out of bbolt's memory.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.bad = true
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.bad = true
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes reads a length-prefixed byte slice; length 0 encodes nil.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n == 0 || d.bad {
		return nil
	}
	n--
	if uint64(len(d.b)) < n {
		d.bad = true
		return nil
	}
	v := append([]byte{}, d.b[:n]...)
	d.b = d.b[n:]
	return v
}

func (d *decoder) err() error {
	if d.bad || len(d.b) != 0 {
		return errDecode
	}
	return nil
}
