package buffer_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/buffer/buffertest"
)

// TestBoltDamagedWhileOpen: when bbolt panics on pages damaged under a
// running store, the store refuses further work with ErrCorrupt instead of
// crashing, and the next open moves the file aside and reports the loss.
func TestBoltDamagedWhileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "buffer.db")
	b, err := buffer.OpenBolt(path, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		buffertest.Fill(t, b, "telemetry", t0, 3, 300, true)
	}
	// Zero every page but the two meta pages, as a failing card would.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, fi.Size()-8192), 8192); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = b.Begin("telemetry", t0, func(uint64) ([]byte, error) { return []byte("header"), nil })
	if !errors.Is(err, buffer.ErrCorrupt) {
		t.Fatalf("Begin on a damaged file: %v, want %v", err, buffer.ErrCorrupt)
	}
	if err := b.Sync(); !errors.Is(err, buffer.ErrCorrupt) {
		t.Errorf("Sync after the damage: %v, want %v", err, buffer.ErrCorrupt)
	}
	if err := b.Close(); !errors.Is(err, buffer.ErrCorrupt) {
		t.Errorf("Close after the damage: %v, want %v", err, buffer.ErrCorrupt)
	}
	clock := buffertest.NewClock(t0.Add(time.Hour))
	again := openBoltAt(t, path, buffer.Options{Now: clock.Now})
	if r := again.Recovered(); r == "" {
		t.Error("the damaged file was opened as if sound")
	}
	if ok, err := again.TakeGap(func(seq uint64, g buffer.Gap) (buffer.Batch, error) {
		if g.Reason != buffer.ReasonCorruptBuffer || g.FromSeq != 1 {
			t.Errorf("gap %+v, want corrupt-buffer from 1", g)
		}
		return buffer.Batch{Seq: seq, Class: "gap", Header: []byte("h"), Chunks: [][]byte{[]byte("c")}, Trailer: []byte("t")}, nil
	}); !ok || err != nil {
		t.Errorf("no gap record for the damaged file: %v", err)
	}
}
