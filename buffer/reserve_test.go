package buffer_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/buffer/buffertest"
	"github.com/edgegw/edgegw/internal/must"
)

// mountTmpfs mounts a tmpfs of size bytes on a temp dir for the test, or
// skips the test where mounting is not permitted.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// storeBatches begins, fills and seals n batches of 4 × 1 KiB chunks. It
// returns the first error; operations that were accepted but not committed
// (ErrNotCommitted) count as done, as the contract says.
func storeBatches(s buffer.Store, n int) error {
	chunk := bytes.Repeat([]byte{0x55}, 1024)
	var first error
	keep := func(err error) bool {
		if first == nil {
			first = err
		}
		return err == nil || errors.Is(err, buffer.ErrNotCommitted)
	}
	for range n {
		seq, err := s.Begin("telemetry", time.Now(), func(uint64) ([]byte, error) { return []byte("header"), nil })
		if !keep(err) {
			return err
		}
		for range 4 {
			if !keep(s.Append(seq, chunk, 10)) {
				return first
			}
		}
		if !keep(s.Seal(seq, []byte("trailer"))) {
			return first
		}
	}
	return first
}

// TestReserveFullDisk: with its space reserved, the buffer keeps committing
// on a filesystem that another file has filled; without, it holds its
// operations in memory until the space is freed.
func TestReserveFullDisk(t *testing.T) {
	dir := mountTmpfs(t, "8m")
	reserved := openBoltAt(t, filepath.Join(dir, "reserved.db"), buffer.Options{Reserve: 3 << 20})
	bare := openBoltAt(t, filepath.Join(dir, "bare.db"), buffer.Options{})
	free := buffertest.FillDisk(t, dir)

	if err := storeBatches(reserved, 200); err != nil {
		t.Fatalf("800 KiB into a 3 MiB reservation on a full disk: %v", err)
	}
	if st := reserved.Stats(); st.Batches != 200 || st.Pending != 0 {
		t.Errorf("reserved buffer: %d batches, %d operations pending; want 200, 0", st.Batches, st.Pending)
	}
	if err := storeBatches(bare, 200); !errors.Is(err, buffer.ErrNotCommitted) {
		t.Errorf("800 KiB into an unreserved buffer on a full disk: %v, want %v", err, buffer.ErrNotCommitted)
	}
	free()
	if err := bare.Sync(); err != nil {
		t.Fatalf("commit once the space is freed: %v", err)
	}
	if st := bare.Stats(); st.Batches != 200 || st.Pending != 0 || st.CommitErr != nil {
		t.Errorf("unreserved buffer after the space was freed: %+v", st)
	}
}

// fileHWM returns the bytes below the high-water mark of the bbolt file at
// path: what bbolt has allocated in it.
func fileHWM(t *testing.T, path string) int64 {
	t.Helper()
	ps, _, _, hwm := boltMeta(t, path)
	return int64(ps * hwm)
}

// TestFileSizeCoversGrowth fills buffers to their byte limit with chunks of
// many sizes in two interleaved classes, acknowledging now and then as an
// uplink would, and requires the file never to use more than FileSize of
// the limit: the reservation covers what bbolt grows to.
func TestFileSizeCoversGrowth(t *testing.T) {
	sizes := []int64{256 << 10, 2 << 20}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, maxBytes := range sizes {
		for _, chunk := range []int{30, 300, 3000, 7000} {
			path := filepath.Join(t.TempDir(), "buffer.db")
			b := openBoltAt(t, path, buffer.Options{MaxBytes: maxBytes, Durability: time.Hour})
			r := rand.New(rand.NewPCG(uint64(maxBytes), uint64(chunk)))
			open := map[string]uint64{}
			n := map[string]int{}
			var peak, written int64
			for written < 3*maxBytes {
				class := []string{"telemetry", "personal"}[r.IntN(2)]
				if open[class] == 0 {
					open[class] = buffertest.Begin(t, b, class, t0)
				}
				size := chunk/2 + r.IntN(chunk)
				must.NoError(t, b.Append(open[class], make([]byte, size), 10))
				written += int64(size)
				if n[class]++; n[class] == 10 {
					must.NoError(t, b.Seal(open[class], make([]byte, 90)))
					open[class], n[class] = 0, 0
				}
				if r.IntN(20) == 0 {
					must.NoError(t, b.Sync())
					peak = max(peak, fileHWM(t, path))
				}
				if r.IntN(300) == 0 {
					bs, err := b.Next(0, r.IntN(40))
					must.NoError(t, err)
					must.NoError(t, b.Ack(buffertest.Seqs(bs)...))
				}
			}
			t.Logf("max_bytes %d, chunks of about %d bytes: file used %d bytes, %.2f × max_bytes", maxBytes, chunk, peak, float64(peak)/float64(maxBytes))
			if peak > buffer.FileSize(maxBytes) {
				t.Errorf("max_bytes %d, chunks of about %d bytes: file used %d bytes, FileSize says %d", maxBytes, chunk, peak, buffer.FileSize(maxBytes))
			}
		}
	}
}

// diskRun begins, fills and seals batches of four 1 KiB chunks of 10
// readings, beginning a new batch when the store dropped the one being
// filled, and calls TakeGap now and then as the agent does. It returns the
// readings written per sequence number.
func diskRun(t *testing.T, s buffer.Store, batches int) map[uint64]int {
	t.Helper()
	written := map[uint64]int{}
	chunk := bytes.Repeat([]byte{0x55}, 1024)
	accepted := func(err error) bool { return err == nil || errors.Is(err, buffer.ErrNotCommitted) }
	for range batches {
		seq, err := s.Begin("telemetry", t0, func(uint64) ([]byte, error) { return []byte("header"), nil })
		if !accepted(err) {
			t.Fatalf("Begin: %v", err)
		}
		written[seq] = 0
		for range 4 {
			err := s.Append(seq, chunk, 10)
			if errors.Is(err, buffer.ErrUnknownBatch) {
				break // dropped: reported, the next batch goes on
			}
			if !accepted(err) {
				t.Fatalf("Append(%d): %v", seq, err)
			}
			written[seq] += 10
		}
		if err := s.Seal(seq, []byte("trailer")); !accepted(err) && !errors.Is(err, buffer.ErrUnknownBatch) {
			t.Fatalf("Seal(%d): %v", seq, err)
		}
		if err := s.Sync(); !accepted(err) {
			t.Fatalf("Sync: %v", err)
		}
		if _, err := s.TakeGap(func(seq uint64, g buffer.Gap) (buffer.Batch, error) {
			return buffer.Batch{Header: []byte("gap"), Chunks: [][]byte{fmt.Appendf(nil, "%d %d %d %d %s", g.FromSeq, g.ToSeq, g.Batches, g.Readings, g.Reason)}, Trailer: []byte("t")}, nil
		}); !accepted(err) {
			t.Fatalf("TakeGap: %v", err)
		}
	}
	return written
}

// checkDiskAccount requires every batch written to be stored whole or
// counted in a gap record, with its exact readings when the disk filled.
// When damaged, the file was damaged too: corrupt-buffer gaps may cover
// other numbers, never a batch written.
func checkDiskAccount(t *testing.T, s buffer.Store, written map[uint64]int, damaged bool) {
	t.Helper()
	if _, err := s.TakeGap(func(seq uint64, g buffer.Gap) (buffer.Batch, error) {
		return buffer.Batch{Header: []byte("gap"), Chunks: [][]byte{fmt.Appendf(nil, "%d %d %d %d %s", g.FromSeq, g.ToSeq, g.Batches, g.Readings, g.Reason)}, Trailer: []byte("t")}, nil
	}); err != nil {
		t.Fatalf("TakeGap: %v", err)
	}
	stored, err := s.Next(0, 1<<20)
	must.NoError(t, err)
	var gaps []buffer.Gap
	kept := map[uint64]int{}
	for _, b := range stored {
		if string(b.Header) != "gap" {
			kept[b.Seq] = b.Readings
			continue
		}
		var g buffer.Gap
		if _, err := fmt.Sscanf(string(b.Chunks[0]), "%d %d %d %d %s", &g.FromSeq, &g.ToSeq, &g.Batches, &g.Readings, &g.Reason); err != nil {
			t.Fatal(err)
		}
		gaps = append(gaps, g)
	}
	var lostBatches, lostReadings, gapBatches, gapReadings uint64
	for seq, n := range written {
		i := slices.IndexFunc(gaps, func(g buffer.Gap) bool { return seq >= g.FromSeq && seq <= g.ToSeq })
		k, ok := kept[seq]
		switch {
		case ok && i >= 0:
			t.Errorf("batch %d both stored and in a gap", seq)
		case ok && k != n:
			t.Errorf("batch %d stored with %d readings, %d written", seq, k, n)
		case !ok && i < 0:
			t.Errorf("batch %d neither stored nor in a gap", seq)
		case !ok && gaps[i].Reason == buffer.ReasonDiskFull:
			lostBatches++
			lostReadings += uint64(n)
		case !ok:
			t.Errorf("batch %d in gap %+v, want one with reason %s and its readings", seq, gaps[i], buffer.ReasonDiskFull)
		}
	}
	for _, g := range gaps {
		switch {
		case g.Reason == buffer.ReasonDiskFull:
			gapBatches += g.Batches
			gapReadings += g.Readings
		case !damaged || !strings.HasPrefix(g.Reason, buffer.ReasonCorruptBuffer):
			t.Errorf("gap %+v, want reason %s", g, buffer.ReasonDiskFull)
		}
	}
	if gapBatches != lostBatches || gapReadings != lostReadings {
		t.Errorf("disk-full gaps count %d batches, %d readings; %d batches with %d readings were lost", gapBatches, gapReadings, lostBatches, lostReadings)
	}
	if lostBatches == 0 {
		t.Error("nothing was dropped: the disk never filled")
	}
	t.Logf("%d batches written, %d stored, %d dropped in %d gaps with %d readings", len(written), len(kept), lostBatches, len(gaps), lostReadings)
}

// TestBoltDiskFullPartialReservation: the filesystem has 1.5 MiB free when
// the store opens and asks for the reservation of a 256 MiB buffer. It
// allocates what there is, and keeps committing as batches come: the
// oldest are dropped (disk-full) to make room, every one counted in a gap
// record with its readings, and no commit fails.
func TestBoltDiskFullPartialReservation(t *testing.T) {
	dir := mountTmpfs(t, "8m")
	buffertest.FillDiskLeaving(t, dir, 3<<19)
	path := filepath.Join(dir, "buffer.db")
	b := openBoltAt(t, path, buffer.Options{Durability: 50 * time.Millisecond, MaxBytes: 256 << 20, Reserve: buffer.FileSize(256 << 20)})
	written := diskRun(t, b, 1500) // 6 MiB of chunks
	if st := b.Stats(); st.CommitErr != nil || st.Pending != 0 {
		t.Fatalf("Stats = %+v: commits failed", st)
	}
	checkDiskAccount(t, b, written, false)
}

// TestBoltDiskFullCarried: without a reservation on a full disk, no commit
// succeeds; the store keeps what it accepted in memory up to MaxPending,
// drops whole batches beyond it, and at Close drops what is left; the gaps
// travel in the sequence sidecar and are reported, exact, once the disk has
// room again.
func TestBoltDiskFullCarried(t *testing.T) {
	dir := mountTmpfs(t, "8m")
	path := filepath.Join(dir, "buffer.db")
	b, err := buffer.OpenBolt(path, buffer.Options{Durability: time.Hour, MaxPending: 64 << 10})
	must.NoError(t, err)
	free := buffertest.FillDisk(t, dir)
	written := diskRun(t, b, 60)
	st := b.Stats()
	if st.CommitErr == nil {
		t.Fatal("commits succeeded on a full disk")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close on a full disk: %v", err)
	}
	free()
	b = openBoltAt(t, path, buffer.Options{})
	checkDiskAccount(t, b, written, false)
	checkNumbersNotReused(t, b, written)
}

// checkNumbersNotReused requires the next batch to be numbered above every
// number written before: a number in a gap record is never a batch too.
func checkNumbersNotReused(t *testing.T, b buffer.Store, written map[uint64]int) {
	t.Helper()
	seq, err := b.Begin("telemetry", t0, func(uint64) ([]byte, error) { return []byte("header"), nil })
	must.NoError(t, err)
	for w := range written {
		if seq <= w {
			t.Fatalf("the next batch is numbered %d, a number used before the restart (up to %d)", seq, slices.Max(slices.Collect(maps.Keys(written))))
		}
	}
}

const diskKillEnv = "EDGEGW_BUFFER_DISKKILL_DIR"

// TestHelperDiskFullWriter is the child process of TestBoltDiskFullKilled:
// it fills the disk, writes batches that cannot be committed, prints what
// it wrote, and waits to be killed.
func TestHelperDiskFullWriter(t *testing.T) {
	dir := os.Getenv(diskKillEnv)
	if dir == "" {
		t.Skip("helper process for TestBoltDiskFullKilled")
	}
	b, err := buffer.OpenBolt(filepath.Join(dir, "buffer.db"), buffer.Options{Durability: time.Hour, MaxPending: 64 << 10})
	must.NoError(t, err)
	free := buffertest.FillDisk(t, dir)
	for seq, n := range diskRun(t, b, 60) {
		fmt.Printf("written %d %d\n", seq, n)
	}
	if os.Getenv(diskKillEnv+"_RECOVER") != "" {
		free()
		must.NoError(t, b.Sync())
	}
	fmt.Println("done")
	select {} // until killed
}

// TestBoltDiskFullKilled: commits fail on a full disk and the process is
// killed with what it could not commit in memory, some of it over the
// memory bound and dropped. At the next start every batch written is
// stored or in a gap record with its exact readings, and numbering goes on
// above them. When the disk had room again before the kill, what was held
// is stored and in no gap. When the file is damaged after the kill, what
// was held is still reported with its readings.
func TestBoltDiskFullKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	t.Run("held", func(t *testing.T) { diskFullKilled(t, false, false) })
	t.Run("committed-before-kill", func(t *testing.T) { diskFullKilled(t, true, false) })
	t.Run("held-file-damaged-after-kill", func(t *testing.T) { diskFullKilled(t, false, true) })
}

func diskFullKilled(t *testing.T, recovered, damaged bool) {
	dir := mountTmpfs(t, "8m")
	env := []string{diskKillEnv + "=" + dir}
	if recovered {
		env = append(env, diskKillEnv+"_RECOVER=1")
	}
	cmd, sc, stderr := startChild(t, "TestHelperDiskFullWriter", env...)
	written := map[uint64]int{}
	done := false
	for !done && sc.Scan() {
		var seq uint64
		var n int
		switch {
		case sc.Text() == "done":
			done = true
		case scan(sc.Text(), "written %d %d", &seq, &n):
			written[seq] = n
		}
	}
	must.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	if !done {
		t.Fatalf("the writer stopped before it was done; stderr: %s", stderr.String())
	}
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "buffer.db")
	if damaged { // nothing reached the file's data: its root page is zeroed
		ps, root, _, _ := boltMeta(t, path)
		patch(t, path, int64(root*ps), make([]byte, ps))
	}
	b := openBoltAt(t, path, buffer.Options{})
	checkDiskAccount(t, b, written, damaged)
	checkNumbersNotReused(t, b, written)
}
