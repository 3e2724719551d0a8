// Package buffertest holds the contract test suite that every buffer.Store
// implementation must pass.
package buffertest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/testclock"

	"github.com/edgegw/edgegw/buffer"
)

// Opener opens an empty Store with the given options for one test. It
// registers its own cleanup; Close may already have been called by then.
type Opener func(t *testing.T, opts buffer.Options) buffer.Store

// Run runs the contract suite against the stores that open returns. opts is
// the base configuration (such as a durability window); tests add their
// limits and clock to it.
func Run(t *testing.T, open Opener) {
	RunWith(t, buffer.Options{}, open)
}

// RunWith is Run with base options.
func RunWith(t *testing.T, base buffer.Options, open Opener) {
	o := func(t *testing.T, f func(*buffer.Options)) buffer.Store {
		opts := base
		if f != nil {
			f(&opts)
		}
		return open(t, opts)
	}
	t.Run("SeqAndHeader", func(t *testing.T) { testSeqAndHeader(t, o(t, nil)) })
	t.Run("ChunksInOrder", func(t *testing.T) { testChunksInOrder(t, o(t, nil)) })
	t.Run("NextAndUnsealed", func(t *testing.T) { testNextAndUnsealed(t, o(t, nil)) })
	t.Run("AckAndErrors", func(t *testing.T) { testAckAndErrors(t, o(t, nil)) })
	t.Run("Stats", func(t *testing.T) { testStats(t, o(t, nil)) })
	t.Run("MaxBytes", func(t *testing.T) {
		testMaxBytes(t, o(t, func(p *buffer.Options) { p.MaxBytes = 1000 }))
	})
	t.Run("MaxBytesKeepsOpen", func(t *testing.T) {
		testMaxBytesKeepsOpen(t, o(t, func(p *buffer.Options) { p.MaxBytes = 300 }))
	})
	t.Run("MaxAge", func(t *testing.T) {
		c := testclock.New(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
		testMaxAge(t, c, o(t, func(p *buffer.Options) { p.MaxAge = time.Hour; p.Now = c.Now }))
	})
	t.Run("TakeGapBuildError", func(t *testing.T) {
		testTakeGapBuildError(t, o(t, func(p *buffer.Options) { p.MaxBytes = 250 }))
	})
	t.Run("Put", func(t *testing.T) {
		testPut(t, o(t, func(p *buffer.Options) { p.MaxBytes = 400; p.Durability = time.Hour }))
	})
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, o(t, nil)) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, o(t, nil)) })
}

// Header returns the header the suite's Begin callbacks build for seq.
func Header(seq uint64) []byte { return fmt.Appendf(nil, "hdr-%06d", seq) } // 10 bytes

// Chunk returns the n-th test chunk of batch seq, size bytes long.
func Chunk(seq uint64, n, size int) []byte {
	b := bytes.Repeat([]byte{byte(n)}, size)
	copy(b, fmt.Sprintf("%d/%d/", seq, n))
	return b
}

// Trailer returns the test trailer of batch seq.
func Trailer(seq uint64) []byte { return fmt.Appendf(nil, "sig-%06d", seq) } // 10 bytes

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// Begin begins a batch of class at created with the suite's header.
func Begin(t testing.TB, s buffer.Store, class string, created time.Time) uint64 {
	t.Helper()
	seq, err := s.Begin(class, created, func(seq uint64) ([]byte, error) { return Header(seq), nil })
	if err != nil {
		t.Fatalf("Begin(%q): %v", class, err)
	}
	return seq
}

// Fill begins a batch, appends n chunks of size bytes with 3 readings each
// and, unless open is set, seals it and syncs the store. It returns the
// sequence number.
func Fill(t testing.TB, s buffer.Store, class string, created time.Time, n, size int, open bool) uint64 {
	t.Helper()
	seq := Begin(t, s, class, created)
	for i := range n {
		if err := s.Append(seq, Chunk(seq, i, size), 3); err != nil {
			t.Fatalf("Append(%d, %d): %v", seq, i, err)
		}
	}
	if !open {
		if err := s.Seal(seq, Trailer(seq)); err != nil {
			t.Fatalf("Seal(%d): %v", seq, err)
		}
		if err := s.Sync(); err != nil {
			t.Fatalf("Sync after Seal(%d): %v", seq, err)
		}
	}
	return seq
}

// Seqs returns the sequence numbers of bs.
func Seqs(bs []buffer.Batch) []uint64 {
	out := make([]uint64, len(bs))
	for i, b := range bs {
		out[i] = b.Seq
	}
	return out
}

// CheckBatch verifies that b is batch seq as Fill built it.
func CheckBatch(t testing.TB, b buffer.Batch, seq uint64, class string, n, size int, sealed bool) {
	t.Helper()
	if b.Seq != seq || b.Class != class {
		t.Fatalf("batch %d %q, want %d %q", b.Seq, b.Class, seq, class)
	}
	if !bytes.Equal(b.Header, Header(seq)) {
		t.Errorf("batch %d header %q, want %q", seq, b.Header, Header(seq))
	}
	if len(b.Chunks) != n {
		t.Fatalf("batch %d has %d chunks, want %d", seq, len(b.Chunks), n)
	}
	for i, c := range b.Chunks {
		if !bytes.Equal(c, Chunk(seq, i, size)) {
			t.Errorf("batch %d chunk %d = %q, want %q", seq, i, c, Chunk(seq, i, size))
		}
	}
	if b.Readings != 3*n {
		t.Errorf("batch %d readings %d, want %d", seq, b.Readings, 3*n)
	}
	if sealed && !bytes.Equal(b.Trailer, Trailer(seq)) {
		t.Errorf("batch %d trailer %q, want %q", seq, b.Trailer, Trailer(seq))
	}
	if !sealed && b.Trailer != nil {
		t.Errorf("open batch %d has trailer %q", seq, b.Trailer)
	}
}

func next(t testing.TB, s buffer.Store, after uint64, max int) []buffer.Batch {
	t.Helper()
	bs, err := s.Next(after, max)
	if err != nil {
		t.Fatalf("Next(%d, %d): %v", after, max, err)
	}
	return bs
}

func syncStore(t testing.TB, s buffer.Store) {
	t.Helper()
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func wantSeqs(t testing.TB, what string, got []buffer.Batch, want ...uint64) {
	t.Helper()
	g := Seqs(got)
	if fmt.Sprint(g) != fmt.Sprint(want) && !(len(g) == 0 && len(want) == 0) {
		t.Fatalf("%s = %v, want %v", what, g, want)
	}
}

func wantGap(t testing.TB, s buffer.Store, wantSeq uint64, want buffer.Gap) {
	t.Helper()
	var got buffer.Gap
	var gotSeq uint64
	ok, err := s.TakeGap(func(seq uint64, g buffer.Gap) (buffer.Batch, error) {
		got, gotSeq = g, seq
		return buffer.Batch{Header: []byte("gap-h"), Trailer: []byte("gap-s")}, nil
	})
	if err != nil || !ok {
		t.Fatalf("TakeGap = %v, %v; want true, nil", ok, err)
	}
	if gotSeq != wantSeq || got != want {
		t.Fatalf("TakeGap built seq %d %+v, want seq %d %+v", gotSeq, got, wantSeq, want)
	}
	bs := next(t, s, wantSeq-1, 1)
	if len(bs) != 1 || bs[0].Seq != wantSeq || bs[0].Class != buffer.GapClass || string(bs[0].Trailer) != "gap-s" {
		t.Fatalf("after TakeGap, Next(%d, 1) = %+v, want the gap batch", wantSeq-1, bs)
	}
	if ok, err := s.TakeGap(func(uint64, buffer.Gap) (buffer.Batch, error) {
		t.Fatal("second TakeGap called build")
		return buffer.Batch{}, nil
	}); ok || err != nil {
		t.Fatalf("second TakeGap = %v, %v; want false, nil", ok, err)
	}
}

var errBuild = errors.New("build failed")

// Signed returns a trailer that Verify accepts for a batch with header and
// chunks: a SHA-256 over them, standing in for the gateway's signature.
func Signed(header []byte, chunks [][]byte) []byte {
	h := sha256.New()
	h.Write(header)
	for _, c := range chunks {
		h.Write(c)
	}
	return h.Sum(nil)
}

// Verify checks a trailer made by Signed, as Options.Verify.
func Verify(b buffer.Batch) error {
	if !bytes.Equal(b.Trailer, Signed(b.Header, b.Chunks)) {
		return fmt.Errorf("batch %d: %w", b.Seq, errBadTrailer)
	}
	return nil
}

var errBadTrailer = errors.New("trailer does not match")

// FillSigned is Fill with a trailer that Verify accepts. It returns the
// sequence number.
func FillSigned(t testing.TB, s buffer.Store, class string, created time.Time, n, size int) uint64 {
	t.Helper()
	seq := Begin(t, s, class, created)
	chunks := make([][]byte, n)
	for i := range n {
		chunks[i] = Chunk(seq, i, size)
		if err := s.Append(seq, chunks[i], 3); err != nil {
			t.Fatalf("Append(%d, %d): %v", seq, i, err)
		}
	}
	if err := s.Seal(seq, Signed(Header(seq), chunks)); err != nil {
		t.Fatalf("Seal(%d): %v", seq, err)
	}
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync after Seal(%d): %v", seq, err)
	}
	return seq
}

// Gaps takes the pending gaps of s, storing records for them.
func Gaps(t testing.TB, s buffer.Store) []buffer.Gap {
	t.Helper()
	var gaps []buffer.Gap
	if _, err := s.TakeGap(func(seq uint64, g buffer.Gap) (buffer.Batch, error) {
		gaps = append(gaps, g)
		return buffer.Batch{Header: []byte("gap-h"), Trailer: []byte("gap-s")}, nil
	}); err != nil {
		t.Fatalf("TakeGap: %v", err)
	}
	return gaps
}
