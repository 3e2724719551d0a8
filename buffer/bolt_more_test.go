package buffer_test

import (
	"bytes"
	"cmp"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/buffer/buffertest"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/poll"
	"github.com/edgegw/edgegw/internal/testclock"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func TestBoltReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "buffer.db")
	b, err := buffer.OpenBolt(path, buffer.Options{Durability: time.Hour})
	must.NoError(t, err)
	for i := 1; i <= 4; i++ {
		buffertest.Fill(t, b, "telemetry", t0, i, 64, i == 4)
	}
	must.NoError(t, b.Ack(1))
	if b.Stats().Pending == 0 {
		t.Fatal("Ack and the appends to open batch 4 should be pending")
	}
	if err := b.Close(); err != nil { // commits
		t.Fatal(err)
	}
	b = openBoltAt(t, path, buffer.Options{})
	if r := b.Recovered(); r != "" {
		t.Fatalf("Recovered = %q after a clean close", r)
	}
	bs, err := b.Next(0, 10)
	must.NoError(t, err)
	if len(bs) != 2 {
		t.Fatalf("Next after reopen = %v, want [2 3]", buffertest.Seqs(bs))
	}
	buffertest.CheckBatch(t, bs[0], 2, "telemetry", 2, 64, true)
	buffertest.CheckBatch(t, bs[1], 3, "telemetry", 3, 64, true)
	un, err := b.Unsealed()
	if err != nil || len(un) != 1 {
		t.Fatalf("Unsealed after reopen = %v, %v; want batch 4", buffertest.Seqs(un), err)
	}
	buffertest.CheckBatch(t, un[0], 4, "telemetry", 4, 64, false)
	// Batches 2 and 3 (148 and 212 bytes) and open batch 4 (266 bytes).
	if after := b.Stats(); after.Batches != 2 || after.OpenBatches != 1 || after.Bytes != 626 || after.Readings != 27 || after.NextSeq != 5 {
		t.Fatalf("Stats after reopen = %+v", after)
	}
	// The open batch continues where it stopped.
	must.NoError(t, b.Append(4, buffertest.Chunk(4, 4, 64), 3))
	must.NoError(t, b.Seal(4, buffertest.Trailer(4)))
	bs, _ = b.Next(3, 10)
	buffertest.CheckBatch(t, bs[0], 4, "telemetry", 5, 64, true)
	if seq := buffertest.Begin(t, b, "telemetry", t0); seq != 5 {
		t.Fatalf("Begin after reopen = %d, want 5", seq)
	}
	for _, p := range []string{path, path + ".seq"} {
		fi, err := os.Stat(p)
		must.NoError(t, err)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
}

func TestBoltDurability(t *testing.T) {
	t.Run("zero", func(t *testing.T) {
		b := openBolt(t, buffer.Options{})
		seq := buffertest.Begin(t, b, "telemetry", t0)
		must.NoError(t, b.Append(seq, []byte("chunk"), 1))
		if p := b.Stats().Pending; p != 0 {
			t.Fatalf("Pending = %d with a zero window", p)
		}
		if un, _ := b.Unsealed(); len(un) != 1 || len(un[0].Chunks) != 1 {
			t.Fatalf("Unsealed = %+v, want the committed chunk", un)
		}
	})
	t.Run("window", func(t *testing.T) {
		commits := 0
		b := openBolt(t, buffer.Options{Durability: time.Hour, OnCommit: func() { commits++ }})
		seq := buffertest.Begin(t, b, "telemetry", t0)
		must.NoError(t, b.Append(seq, []byte("chunk"), 1))
		if p := b.Stats().Pending; p != 2 {
			t.Fatalf("Pending = %d, want 2 (Begin and Append)", p)
		}
		if un, _ := b.Unsealed(); len(un) != 0 {
			t.Fatalf("Unsealed shows uncommitted batches: %+v", un)
		}
		if st := b.Stats(); st.OpenBatches != 0 || st.NextSeq != 2 {
			t.Fatalf("Stats = %+v, want no committed batch and NextSeq 2", st)
		}
		must.NoError(t, b.Sync())
		if un, _ := b.Unsealed(); len(un) != 1 || len(un[0].Chunks) != 1 || b.Stats().Pending != 0 {
			t.Fatalf("after Sync, Unsealed = %+v, Pending = %d", un, b.Stats().Pending)
		}
		// Seal is group-committed too: the batch is published only once
		// committed, together with what was pending before it.
		must.NoError(t, b.Append(seq, []byte("more"), 1))
		must.NoError(t, b.Seal(seq, []byte("sig")))
		if bs, _ := b.Next(0, 1); len(bs) != 0 || b.Stats().Pending != 2 {
			t.Fatalf("after Seal before the window, Next = %+v, Pending = %d", bs, b.Stats().Pending)
		}
		must.NoError(t, b.Sync())
		if bs, _ := b.Next(0, 1); len(bs) != 1 || len(bs[0].Chunks) != 2 || b.Stats().Pending != 0 {
			t.Fatalf("after Seal and Sync, Next = %+v", bs)
		}
		if commits != 1 {
			t.Fatalf("OnCommit called %d times, want once: for the commit that closed the batch", commits)
		}
	})
	t.Run("committer", func(t *testing.T) {
		b := openBolt(t, buffer.Options{Durability: 5 * time.Millisecond})
		seq := buffertest.Begin(t, b, "telemetry", t0)
		must.NoError(t, b.Append(seq, []byte("chunk"), 1))
		poll.Until(t, 10*time.Second, "the committer", func() bool { return b.Stats().Pending == 0 })
		if un, _ := b.Unsealed(); len(un) != 1 || len(un[0].Chunks) != 1 {
			t.Fatalf("Unsealed after the window = %+v", un)
		}
	})
}

// TestBoltReservation crosses a reservation block and checks the sidecar.
func TestBoltReservation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "buffer.db")
	b := openBoltAt(t, path, buffer.Options{Durability: time.Hour})
	readSeq := func() string {
		s, err := os.ReadFile(path + ".seq")
		must.NoError(t, err)
		return string(s)
	}
	want := func(line string) {
		t.Helper()
		got := readSeq()
		if !strings.HasPrefix(got, line) || len(got) != 1024 || strings.TrimSpace(got) != strings.TrimSpace(line) {
			t.Fatalf("sidecar = %q, want %q padded to 1024 bytes", got, line)
		}
	}
	want("edgegw-seq 2 00000000000000000001 00000000000000000001 00000000000000010001\n")
	buffertest.Fill(t, b, "telemetry", t0, 1, 10, false)
	for range 10000 {
		buffertest.Begin(t, b, "telemetry", t0)
	}
	want("edgegw-seq 2 00000000000000000001 00000000000000010001 00000000000000020001\n")
	must.NoError(t, b.Sync())
	if st := b.Stats(); st.NextSeq != 10002 || st.OpenBatches != 10000 {
		t.Fatalf("Stats = %+v", st)
	}
}

// corrupt damages the file at path in one of several ways.
var corruptions = map[string]func(t *testing.T, path string){
	"truncate": func(t *testing.T, path string) {
		fi, err := os.Stat(path)
		must.NoError(t, err)
		must.NoError(t, os.Truncate(path, fi.Size()/2))
	},
	"truncate-tiny": func(t *testing.T, path string) {
		must.NoError(t, os.Truncate(path, 100))
	},
	"meta-pages": func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		must.NoError(t, err)
		defer f.Close()
		garbage := []byte(strings.Repeat("garbage!", 64))
		for _, off := range []int64{0, int64(os.Getpagesize())} {
			if _, err := f.WriteAt(garbage, off+16); err != nil {
				t.Fatal(err)
			}
		}
	},
	"random": func(t *testing.T, path string) {
		fi, err := os.Stat(path)
		must.NoError(t, err)
		r := rand.New(rand.NewPCG(1, 2))
		b := make([]byte, fi.Size())
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		must.NoError(t, os.WriteFile(path, b, 0o600))
	},
	"data-pages": func(t *testing.T, path string) {
		b, err := os.ReadFile(path)
		must.NoError(t, err)
		ps := os.Getpagesize()
		r := rand.New(rand.NewPCG(3, 4))
		for i := 2 * ps; i < len(b); i++ {
			b[i] = byte(r.Uint32())
		}
		must.NoError(t, os.WriteFile(path, b, 0o600))
	},
}

func TestBoltCorrupt(t *testing.T) {
	for name, corrupt := range corruptions {
		for _, sidecar := range []bool{true, false} {
			t.Run(name+map[bool]string{true: "", false: "-no-sidecar"}[sidecar], func(t *testing.T) {
				testCorrupt(t, corrupt, sidecar)
			})
		}
	}
}

func testCorrupt(t *testing.T, corrupt func(*testing.T, string), sidecar bool) {
	dir := t.TempDir()
	path := filepath.Join(dir, "buffer.db")
	b, err := buffer.OpenBolt(path, buffer.Options{})
	must.NoError(t, err)
	for i := range 20 {
		buffertest.Fill(t, b, "telemetry", t0, 3, 300, i == 19)
	}
	must.NoError(t, b.Close())
	corrupt(t, path)
	if !sidecar {
		os.Remove(path + ".seq")
	}
	clock := testclock.New(t0)
	b = openBoltAt(t, path, buffer.Options{Now: clock.Now})
	if r := b.Recovered(); !strings.Contains(r, "buffer.db.corrupt-20261125T090000Z") {
		t.Fatalf("Recovered = %q, want the moved-aside name", r)
	}
	if _, err := os.Stat(path + ".corrupt-20261125T090000Z"); err != nil {
		t.Fatalf("corrupt file not moved aside: %v", err)
	}
	if _, err := os.Stat(path + ".checking"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("integrity-check marker left behind: %v", err)
	}
	to := uint64(10000)
	if !sidecar {
		to = uint64(t0.Unix()) - 1
	}
	// Without Options.Verify nothing is salvaged: every number up to the
	// reservation is in a gap, with the readings of the records that could
	// be read, or marked unknown.
	if st := b.Stats(); st.NextSeq != to+1 || st.Batches != 0 || st.OpenBatches != 0 {
		t.Fatalf("Stats after recovery = %+v, want NextSeq %d and no batch", st, to+1)
	}
	gaps := buffertest.Gaps(t, b)
	checkCover(t, gaps, 1, to)
	var batches uint64
	for _, g := range gaps {
		batches += g.Batches
		if !strings.HasPrefix(g.Reason, buffer.ReasonCorruptBuffer) || g.Readings != 9*g.Batches {
			t.Errorf("gap %+v: want reason %s and 9 readings a batch", g, buffer.ReasonCorruptBuffer)
		}
	}
	if batches > 20 {
		t.Errorf("gaps count %d batches lost, only 20 were stored", batches)
	}
	if seq := buffertest.Begin(t, b, "telemetry", t0); seq != to+1+uint64(len(gaps)) {
		t.Fatalf("Begin after recovery = %d, want %d", seq, to+1+uint64(len(gaps)))
	}
}

// checkCover requires gaps to cover from..to exactly once.
func checkCover(t *testing.T, gaps []buffer.Gap, from, to uint64) {
	t.Helper()
	sorted := slices.Clone(gaps)
	slices.SortFunc(sorted, func(a, b buffer.Gap) int { return cmp.Compare(a.FromSeq, b.FromSeq) })
	next := from
	for _, g := range sorted {
		if g.FromSeq != next || g.ToSeq < g.FromSeq {
			t.Fatalf("gaps %+v do not cover %d..%d once: at %d", sorted, from, to, next)
		}
		next = g.ToSeq + 1
		unknown := strings.HasSuffix(g.Reason, ","+buffer.ReasonCountUnknown)
		if unknown && (g.Batches != 0 || g.Readings != 0) {
			t.Errorf("gap %+v has counts and says they are unknown", g)
		}
	}
	if next != to+1 {
		t.Fatalf("gaps %+v end at %d, want %d", sorted, next-1, to)
	}
}

func TestBoltMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "buffer.db")
	b, err := buffer.OpenBolt(path, buffer.Options{})
	must.NoError(t, err)
	for range 3 {
		buffertest.Fill(t, b, "telemetry", t0, 1, 10, false)
	}
	must.NoError(t, b.Ack(1, 2))
	buffertest.Begin(t, b, "telemetry", t0) // crosses nothing: low water stays 1
	must.NoError(t, b.Close())
	must.NoError(t, os.Remove(path))
	b = openBoltAt(t, path, buffer.Options{})
	if b.Recovered() == "" {
		t.Fatal("Recovered is empty after the file disappeared")
	}
	var got buffer.Gap
	if ok, err := b.TakeGap(func(seq uint64, g buffer.Gap) (buffer.Batch, error) {
		got = g
		return buffer.Batch{Trailer: []byte("s")}, nil
	}); !ok || err != nil {
		t.Fatalf("TakeGap = %v, %v", ok, err)
	}
	if want := (buffer.Gap{FromSeq: 1, ToSeq: 10000, Reason: buffer.ReasonMissingBuffer + "," + buffer.ReasonCountUnknown}); got != want {
		t.Fatalf("gap = %+v, want %+v", got, want)
	}
}

// TestBoltKeepsTwoCorruptCopies: repeated damage cannot fill the disk with
// moved-aside files; the newest two are kept for analysis.
func TestBoltKeepsTwoCorruptCopies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "buffer.db")
	for _, old := range []string{"20240101T000000Z", "20250101T000000Z"} {
		must.NoError(t, os.WriteFile(path+".corrupt-"+old, []byte("old"), 0o600))
	}
	must.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("not a bbolt file"), 1024), 0o600))
	openBoltAt(t, path, buffer.Options{Now: testclock.New(t0).Now})
	aside, err := filepath.Glob(path + ".corrupt-*")
	must.NoError(t, err)
	want := []string{path + ".corrupt-20250101T000000Z", path + ".corrupt-20261125T090000Z"}
	if !slices.Equal(aside, want) {
		t.Errorf("moved-aside files = %v, want %v", aside, want)
	}
}

// TestBoltLockedByAnother: a second open of a buffer file in use fails with
// ErrLocked and leaves the file to its holder.
func TestBoltLockedByAnother(t *testing.T) {
	path := filepath.Join(t.TempDir(), "buffer.db")
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := openBoltAt(t, path, buffer.Options{Now: testclock.New(t0).Now})
	buffertest.Begin(t, b, "telemetry", t0)
	second, err := buffer.OpenBolt(path, buffer.Options{})
	if !errors.Is(err, buffer.ErrLocked) || !strings.Contains(err.Error(), path+": in use by") {
		t.Fatalf("second OpenBolt = %v, %v; want ErrLocked naming %s", second, err, path)
	}
	buffertest.Begin(t, b, "telemetry", t0) // the holder goes on
}
