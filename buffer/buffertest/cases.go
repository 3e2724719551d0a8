package buffertest

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/testclock"

	"github.com/edgegw/edgegw/buffer"
)

func testSeqAndHeader(t *testing.T, s buffer.Store) {
	if got := s.Stats().NextSeq; got != 1 {
		t.Fatalf("NextSeq of an empty store = %d, want 1", got)
	}
	var built []uint64
	for i, class := range []string{"telemetry", "personal", "telemetry"} {
		seq, err := s.Begin(class, t0, func(seq uint64) ([]byte, error) {
			built = append(built, seq)
			return Header(seq), nil
		})
		if err != nil || seq != uint64(i+1) {
			t.Fatalf("Begin #%d = %d, %v; want %d", i, seq, err, i+1)
		}
	}
	if fmt.Sprint(built) != "[1 2 3]" {
		t.Fatalf("build called with %v, want [1 2 3]", built)
	}
	// A failing build does not consume the number.
	if _, err := s.Begin("telemetry", t0, func(uint64) ([]byte, error) { return nil, errBuild }); !errors.Is(err, errBuild) {
		t.Fatalf("Begin with failing build: %v, want %v", err, errBuild)
	}
	if seq := Begin(t, s, "personal", t0); seq != 4 {
		t.Fatalf("Begin after a failed build = %d, want 4", seq)
	}
	for seq := uint64(1); seq <= 4; seq++ {
		if err := s.Seal(seq, Trailer(seq)); err != nil {
			t.Fatal(err)
		}
	}
	syncStore(t, s)
	bs := next(t, s, 0, 10)
	wantSeqs(t, "Next(0, 10)", bs, 1, 2, 3, 4)
	for i, class := range []string{"telemetry", "personal", "telemetry", "personal"} {
		CheckBatch(t, bs[i], uint64(i+1), class, 0, 0, true)
		if !bs[i].Created.Equal(t0) {
			t.Errorf("batch %d created %v, want %v", i+1, bs[i].Created, t0)
		}
	}
	if got := s.Stats().NextSeq; got != 5 {
		t.Fatalf("NextSeq = %d, want 5", got)
	}
}

func testChunksInOrder(t *testing.T, s buffer.Store) {
	a := Fill(t, s, "telemetry", t0, 7, 150, false)
	b := Fill(t, s, "personal", t0, 1, 40, false)
	bs := next(t, s, 0, 10)
	wantSeqs(t, "Next", bs, a, b)
	CheckBatch(t, bs[0], a, "telemetry", 7, 150, true)
	CheckBatch(t, bs[1], b, "personal", 1, 40, true)
	// Returned batches are copies.
	bs[0].Chunks[0][0] ^= 0xff
	CheckBatch(t, next(t, s, 0, 1)[0], a, "telemetry", 7, 150, true)
}

func testNextAndUnsealed(t *testing.T, s buffer.Store) {
	for i := 1; i <= 6; i++ {
		Fill(t, s, "telemetry", t0, i, 20, i == 3 || i == 5)
	}
	syncStore(t, s)
	wantSeqs(t, "Next(0, 10)", next(t, s, 0, 10), 1, 2, 4, 6)
	wantSeqs(t, "Next(1, 10)", next(t, s, 1, 10), 2, 4, 6)
	wantSeqs(t, "Next(2, 10)", next(t, s, 2, 10), 4, 6)
	wantSeqs(t, "Next(0, 2)", next(t, s, 0, 2), 1, 2)
	wantSeqs(t, "Next(2, 1)", next(t, s, 2, 1), 4)
	wantSeqs(t, "Next(6, 10)", next(t, s, 6, 10))
	wantSeqs(t, "Next(0, 0)", next(t, s, 0, 0))
	un, err := s.Unsealed()
	if err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, "Unsealed", un, 3, 5)
	CheckBatch(t, un[0], 3, "telemetry", 3, 20, false)
	CheckBatch(t, un[1], 5, "telemetry", 5, 20, false)
	// Sealing (once committed) makes them appear in Next, in order.
	if err := s.Seal(5, Trailer(5)); err != nil {
		t.Fatal(err)
	}
	syncStore(t, s)
	wantSeqs(t, "Next after sealing 5", next(t, s, 0, 10), 1, 2, 4, 5, 6)
	CheckBatch(t, next(t, s, 4, 1)[0], 5, "telemetry", 5, 20, true)
}

func testAckAndErrors(t *testing.T, s buffer.Store) {
	for i := 1; i <= 4; i++ {
		Fill(t, s, "telemetry", t0, 2, 30, i == 3)
	}
	if err := s.Ack(1, 4); err != nil {
		t.Fatal(err)
	}
	syncStore(t, s)
	wantSeqs(t, "Next after Ack(1, 4)", next(t, s, 0, 10), 2)
	if err := s.Ack(1, 4, 99); err != nil {
		t.Fatalf("Ack of unknown batches: %v", err)
	}
	if err := s.Ack(2, 3); !errors.Is(err, buffer.ErrBatchOpen) {
		t.Fatalf("Ack of open batch: %v, want ErrBatchOpen", err)
	}
	syncStore(t, s)
	wantSeqs(t, "Next after a refused Ack", next(t, s, 0, 10), 2)
	for _, seq := range []uint64{1, 2, 99} {
		if err := s.Append(seq, []byte("x"), 1); !errors.Is(err, buffer.ErrUnknownBatch) {
			t.Errorf("Append(%d): %v, want ErrUnknownBatch", seq, err)
		}
		if err := s.Seal(seq, []byte("x")); !errors.Is(err, buffer.ErrUnknownBatch) {
			t.Errorf("Seal(%d): %v, want ErrUnknownBatch", seq, err)
		}
	}
	if err := s.Seal(3, nil); !errors.Is(err, buffer.ErrInvalid) {
		t.Errorf("Seal with an empty trailer: %v, want ErrInvalid", err)
	}
	if err := s.Ack(2); err != nil {
		t.Fatal(err)
	}
	syncStore(t, s)
	wantSeqs(t, "Next after acking all", next(t, s, 0, 10))
	st := s.Stats()
	if st.Batches != 0 || st.OpenBatches != 1 || st.Bytes != 10+60 || st.Readings != 6 {
		t.Fatalf("Stats after acks = %+v, want only open batch 3 (70 bytes, 6 readings)", st)
	}
}

func testStats(t *testing.T, s buffer.Store) {
	if st := s.Stats(); st.Batches != 0 || st.OpenBatches != 0 || st.Bytes != 0 || !st.Oldest.IsZero() || st.NextSeq != 1 {
		t.Fatalf("Stats of an empty store = %+v", st)
	}
	Fill(t, s, "telemetry", t0, 3, 100, false)                // 10+300+10
	Fill(t, s, "personal", t0.Add(time.Minute), 2, 50, false) // 10+100+10
	Fill(t, s, "telemetry", t0.Add(2*time.Minute), 1, 7, true)
	syncStore(t, s)
	st := s.Stats()
	want := buffer.Stats{Batches: 2, OpenBatches: 1, Readings: 18, Bytes: 320 + 120 + 17, Oldest: t0, NextSeq: 4}
	if st.Batches != want.Batches || st.OpenBatches != want.OpenBatches || st.Readings != want.Readings ||
		st.Bytes != want.Bytes || !st.Oldest.Equal(want.Oldest) || st.NextSeq != want.NextSeq ||
		st.DroppedBatches != 0 || st.Pending != 0 {
		t.Fatalf("Stats = %+v, want %+v", st, want)
	}
	if err := s.Ack(1); err != nil {
		t.Fatal(err)
	}
	syncStore(t, s)
	st = s.Stats()
	if st.Batches != 1 || st.Bytes != 120+17 || st.Readings != 9 || !st.Oldest.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Stats after Ack(1) = %+v", st)
	}
}

// testMaxBytes stores 12 closed batches of 120 bytes (header 10, one chunk
// of 100, trailer 10) under a 1000-byte limit: batches 1 to 4 must go.
func testMaxBytes(t *testing.T, s buffer.Store) {
	for range 12 {
		Fill(t, s, "telemetry", t0, 1, 100, false)
	}
	st := s.Stats()
	if st.Batches != 8 || st.Bytes != 960 || st.DroppedBatches != 4 || st.DroppedReadings != 12 {
		t.Fatalf("Stats = %+v, want 8 batches, 960 bytes, 4 dropped with 12 readings", st)
	}
	wantSeqs(t, "Next", next(t, s, 0, 100), 5, 6, 7, 8, 9, 10, 11, 12)
	wantGap(t, s, 13, buffer.Gap{FromSeq: 1, ToSeq: 4, Batches: 4, Readings: 12, Reason: buffer.ReasonMaxBytes})
	if st := s.Stats(); st.NextSeq != 14 || st.Bytes != 970 || st.Batches != 9 {
		t.Fatalf("Stats after TakeGap = %+v, want NextSeq 14, 970 bytes, 9 batches", st)
	}
	// The gap batch is older than 5 but is not dropped before it.
	Fill(t, s, "telemetry", t0, 1, 100, false)
	wantSeqs(t, "Next after one more", next(t, s, 0, 100), 6, 7, 8, 9, 10, 11, 12, 13, 14)
	wantGap(t, s, 15, buffer.Gap{FromSeq: 5, ToSeq: 5, Batches: 1, Readings: 3, Reason: buffer.ReasonMaxBytes})
	if st := s.Stats(); st.DroppedBatches != 5 || st.DroppedReadings != 15 {
		t.Fatalf("Stats = %+v, want 5 dropped with 15 readings", st)
	}
}

// testMaxBytesKeepsOpen checks that an open batch is never dropped, even
// when it is the oldest.
func testMaxBytesKeepsOpen(t *testing.T, s buffer.Store) {
	open := Fill(t, s, "personal", t0, 1, 100, true) // 110 bytes, open
	for range 4 {
		Fill(t, s, "telemetry", t0, 1, 100, false) // 2..5, 120 bytes each
	}
	un, err := s.Unsealed()
	if err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, "Unsealed", un, open)
	wantSeqs(t, "Next", next(t, s, 0, 100), 5)
	wantGap(t, s, 6, buffer.Gap{FromSeq: 2, ToSeq: 4, Batches: 3, Readings: 9, Reason: buffer.ReasonMaxBytes})
	if err := s.Append(open, Chunk(open, 1, 10), 3); err != nil {
		t.Fatalf("Append to the old open batch: %v", err)
	}
}

func testMaxAge(t *testing.T, c *testclock.Clock, s buffer.Store) {
	start := c.Now()
	Fill(t, s, "telemetry", start, 2, 10, false)
	Fill(t, s, "personal", start, 1, 10, false)
	c.Advance(30 * time.Minute)
	Fill(t, s, "telemetry", c.Now(), 1, 10, false)
	syncStore(t, s)
	if st := s.Stats(); st.Batches != 3 || st.DroppedBatches != 0 {
		t.Fatalf("Stats before MaxAge = %+v, want 3 batches, none dropped", st)
	}
	c.Advance(45 * time.Minute) // batches 1 and 2 are now 75 minutes old
	syncStore(t, s)
	wantSeqs(t, "Next", next(t, s, 0, 10), 3)
	if st := s.Stats(); st.DroppedBatches != 2 || st.DroppedReadings != 9 || !st.Oldest.Equal(start.Add(30*time.Minute)) {
		t.Fatalf("Stats after MaxAge = %+v, want 2 dropped with 9 readings", st)
	}
	wantGap(t, s, 4, buffer.Gap{FromSeq: 1, ToSeq: 2, Batches: 2, Readings: 9, Reason: buffer.ReasonMaxAge})
}

func testTakeGapBuildError(t *testing.T, s buffer.Store) {
	if ok, err := s.TakeGap(func(uint64, buffer.Gap) (buffer.Batch, error) {
		t.Fatal("TakeGap called build without a gap")
		return buffer.Batch{}, nil
	}); ok || err != nil {
		t.Fatalf("TakeGap without a gap = %v, %v", ok, err)
	}
	for range 3 {
		Fill(t, s, "telemetry", t0, 1, 100, false) // 120 bytes each: 1 dropped
	}
	if ok, err := s.TakeGap(func(uint64, buffer.Gap) (buffer.Batch, error) { return buffer.Batch{}, errBuild }); ok || !errors.Is(err, errBuild) {
		t.Fatalf("TakeGap with failing build = %v, %v", ok, err)
	}
	if ok, err := s.TakeGap(func(uint64, buffer.Gap) (buffer.Batch, error) { return buffer.Batch{Header: []byte("h")}, nil }); ok || !errors.Is(err, buffer.ErrInvalid) {
		t.Fatalf("TakeGap with a batch without trailer = %v, %v; want ErrInvalid", ok, err)
	}
	wantGap(t, s, 4, buffer.Gap{FromSeq: 1, ToSeq: 1, Batches: 1, Readings: 3, Reason: buffer.ReasonMaxBytes})
}

// testConcurrent runs a writer, a drainer acking what it reads and a stats
// reader at once; the drainer must see every batch exactly once, in order.
func testConcurrent(t *testing.T, s buffer.Store) {
	const batches, chunks = 150, 3
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	stop := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range batches {
			class := []string{"telemetry", "personal"}[i%2]
			seq, err := s.Begin(class, t0, func(seq uint64) ([]byte, error) { return Header(seq), nil })
			for j := 0; err == nil && j < chunks; j++ {
				err = s.Append(seq, Chunk(seq, j, 50), 3)
			}
			if err == nil {
				err = s.Seal(seq, Trailer(seq))
			}
			if err == nil {
				err = s.Sync()
			}
			if err != nil {
				errc <- err
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = s.Stats()
			runtime.Gosched()
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	var last uint64
	for last < batches {
		if time.Now().After(deadline) {
			t.Fatalf("drained up to %d of %d before the deadline", last, batches)
		}
		select {
		case err := <-errc:
			t.Fatal(err)
		default:
		}
		bs, err := s.Next(last, 16)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.Seq != last+1 {
				t.Fatalf("Next after %d returned %d", last, b.Seq)
			}
			CheckBatch(t, b, b.Seq, []string{"telemetry", "personal"}[(b.Seq-1)%2], chunks, 50, true)
			last = b.Seq
		}
		if len(bs) > 0 {
			if err := s.Ack(Seqs(bs)...); err != nil {
				t.Fatal(err)
			}
		} else {
			runtime.Gosched()
		}
	}
	close(stop)
	wg.Wait()
	syncStore(t, s)
	if st := s.Stats(); st.Batches != 0 || st.OpenBatches != 0 || st.Bytes != 0 || st.NextSeq != batches+1 {
		t.Fatalf("Stats after draining = %+v", st)
	}
}

func testClosed(t *testing.T, s buffer.Store) {
	Fill(t, s, "telemetry", t0, 1, 10, true)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Begin("telemetry", t0, func(seq uint64) ([]byte, error) { return Header(seq), nil }); !errors.Is(err, buffer.ErrClosed) {
		t.Errorf("Begin after Close: %v", err)
	}
	if err := s.Append(1, []byte("x"), 1); !errors.Is(err, buffer.ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if _, err := s.Next(0, 1); !errors.Is(err, buffer.ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
	if err := s.Ack(1); !errors.Is(err, buffer.ErrClosed) {
		t.Errorf("Ack after Close: %v", err)
	}
	if err := s.Sync(); !errors.Is(err, buffer.ErrClosed) {
		t.Errorf("Sync after Close: %v", err)
	}
}

// testPut stores audit records between batches of readings under a
// 400-byte limit and a long durability window: Put assigns the next number,
// commits at once, and its records outlive readings when the limit drops.
func testPut(t *testing.T, s buffer.Store) {
	record := func(seq uint64) (buffer.Batch, error) {
		return buffer.Batch{Class: buffer.AuditClass, Header: Header(seq), Chunks: [][]byte{Chunk(seq, 0, 40)}, Trailer: Trailer(seq)}, nil
	}
	Fill(t, s, "telemetry", t0, 1, 100, false) // 1
	seq, err := s.Put(record)
	if err != nil || seq != 2 {
		t.Fatalf("Put = %d, %v; want 2", seq, err)
	}
	// Visible to Next without a Sync: Put commits before returning.
	bs := next(t, s, 1, 10)
	wantSeqs(t, "Next after Put", bs, 2)
	if b := bs[0]; b.Class != buffer.AuditClass || !bytes.Equal(b.Header, Header(2)) || len(b.Chunks) != 1 || !bytes.Equal(b.Trailer, Trailer(2)) {
		t.Fatalf("Put stored %+v", b)
	}
	for range 3 {
		Fill(t, s, "telemetry", t0, 1, 100, false) // 3, 4, 5: 120 bytes each
	}
	// 4 × 120 + 60 bytes > 400: readings batches 1 and 3 go, the record stays.
	wantSeqs(t, "Next", next(t, s, 0, 10), 2, 4, 5)
	if _, err := s.Put(func(uint64) (buffer.Batch, error) {
		return buffer.Batch{Header: []byte("h"), Trailer: []byte("t")}, nil
	}); !errors.Is(err, buffer.ErrInvalid) {
		t.Fatalf("Put without a class: %v, want ErrInvalid", err)
	}
	if _, err := s.Put(func(uint64) (buffer.Batch, error) { return buffer.Batch{}, errBuild }); !errors.Is(err, errBuild) {
		t.Fatalf("Put with failing build: %v, want %v", err, errBuild)
	}
	if seq, err := s.Put(record); err != nil || seq != 6 {
		t.Fatalf("Put after failed ones = %d, %v; want 6 (failures use no number)", seq, err)
	}
}
