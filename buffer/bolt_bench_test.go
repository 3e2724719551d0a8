package buffer_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/buffer/buffertest"
	"github.com/edgegw/edgegw/internal/must"
)

// BenchmarkBoltAppend appends 150-byte chunks with group commit, one Sync per
// 1000 Appends, as a 1s window would with a busy gateway.
func BenchmarkBoltAppend(b *testing.B) {
	s, err := buffer.OpenBolt(filepath.Join(b.TempDir(), "buffer.db"), buffer.Options{Durability: time.Hour})
	must.NoError(b, err)
	defer s.Close()
	chunk := buffertest.Chunk(1, 0, 150)
	seq := buffertest.Begin(b, s, "telemetry", t0)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%1000 == 999 {
			if err := s.Seal(seq, []byte("sig")); err != nil { // commits
				b.Fatal(err)
			}
			seq = buffertest.Begin(b, s, "telemetry", t0)
		}
		must.NoError(b, s.Append(seq, chunk, 3))
	}
	must.NoError(b, s.Sync())
}

// BenchmarkBoltDrain reads 64 closed batches of 10 chunks and acknowledges
// them, as the uplink does.
func BenchmarkBoltDrain(b *testing.B) {
	s, err := buffer.OpenBolt(filepath.Join(b.TempDir(), "buffer.db"), buffer.Options{Durability: time.Hour})
	must.NoError(b, err)
	defer s.Close()
	fill := func() {
		for range 64 {
			buffertest.Fill(b, s, "telemetry", t0, 10, 150, false)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		fill()
		b.StartTimer()
		bs, err := s.Next(0, 64)
		if err != nil || len(bs) != 64 {
			b.Fatalf("Next = %d batches, %v", len(bs), err)
		}
		must.NoError(b, s.Ack(buffertest.Seqs(bs)...))
		must.NoError(b, s.Sync())
	}
}
