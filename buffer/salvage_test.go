package buffer_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
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
	"github.com/edgegw/edgegw/internal/testclock"
)

// boltMeta returns the page size, root page, freelist page and high-water
// mark of the newer valid meta page of the bbolt file at path.
func boltMeta(t *testing.T, path string) (ps, root, freelist, hwm uint64) {
	t.Helper()
	f, err := os.Open(path)
	must.NoError(t, err)
	defer f.Close()
	b := make([]byte, 2*65536)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	var txid uint64
	for _, off := range []uint64{0, uint64(le.Uint32(b[16+8:]))} {
		m := b[off+16:]
		if id := le.Uint64(m[48:]); id >= txid {
			txid, ps, root, freelist, hwm = id, uint64(le.Uint32(m[8:])), le.Uint64(m[16:]), le.Uint64(m[32:]), le.Uint64(m[40:])
		}
	}
	return ps, root, freelist, hwm
}

// bucketRoot returns the page size and the root page of the bucket name,
// read from the root page of the file at path.
func bucketRoot(t *testing.T, path, name string) (ps, id uint64, file []byte) {
	t.Helper()
	ps, root, _, _ := boltMeta(t, path)
	b, err := os.ReadFile(path)
	must.NoError(t, err)
	le := binary.LittleEndian
	page := b[root*ps:]
	for i := range uint64(le.Uint16(page[10:])) {
		e := page[16+16*i:]
		k := 16 + 16*i + uint64(le.Uint32(e[4:]))
		if key := page[k : k+uint64(le.Uint32(e[8:]))]; string(key) == name {
			return ps, le.Uint64(page[k+uint64(len(key)):]), b
		}
	}
	t.Fatalf("no %s bucket in the root page", name)
	return 0, 0, nil
}

// chunkLeaf returns the page size and a leaf page of the chunks bucket in
// use: the second child of its root branch page.
func chunkLeaf(t *testing.T, path string) (ps, id uint64) {
	t.Helper()
	ps, croot, b := bucketRoot(t, path, "chunks")
	le := binary.LittleEndian
	branch := b[croot*ps:]
	if le.Uint16(branch[8:]) != 1 || le.Uint16(branch[10:]) < 2 {
		t.Fatalf("chunks bucket root %d is not a branch page", croot)
	}
	return ps, le.Uint64(branch[16+16+8:])
}

// patch overwrites the file at path with data at off.
func patch(t *testing.T, path string, off int64, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	must.NoError(t, err)
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
	must.NoError(t, f.Close())
}

// freelistListing makes the freelist list one page, chosen by pick from
// the file's root and high-water mark: the file's data stays intact.
func freelistListing(pick func(root, hwm uint64) uint64) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		ps, root, freelist, hwm := boltMeta(t, path)
		page := make([]byte, 8)
		binary.LittleEndian.PutUint64(page, pick(root, hwm))
		patch(t, path, int64(freelist*ps)+10, []byte{1, 0}) // count
		patch(t, path, int64(freelist*ps)+16, page)
	}
}

// salvageCases damage a closed buffer file; minKept is how many of its 35
// closed, unacknowledged batches must be salvaged.
var salvageCases = []struct {
	name    string
	damage  func(t *testing.T, path string)
	minKept int
}{
	{"freelist-lists-meta", freelistListing(func(uint64, uint64) uint64 { return 1 }), 35},
	{"freelist-lists-root", freelistListing(func(root, _ uint64) uint64 { return root }), 35},
	{"freelist-beyond-end", freelistListing(func(_, hwm uint64) uint64 { return hwm + 5 }), 35},
	{"meta-pages", corruptions["meta-pages"], 35},
	{"chunk-page-noise", func(t *testing.T, path string) {
		ps, id := chunkLeaf(t, path)
		r := rand.New(rand.NewPCG(5, 6))
		noise := make([]byte, ps)
		for i := range noise {
			noise[i] = byte(r.Uint32())
		}
		patch(t, path, int64(id*ps), noise)
	}, 25},
	{"chunk-page-zeroed", func(t *testing.T, path string) {
		ps, id := chunkLeaf(t, path)
		patch(t, path, int64(id*ps), make([]byte, ps))
	}, 25},
	{"truncated", func(t *testing.T, path string) {
		// Cut the last third of the file, or less where bbolt put the
		// leaf of batch records there: batches whose records are lost
		// are reported with unknown counts, which minKept does not test.
		_, _, _, hwm := boltMeta(t, path)
		ps, records, _ := bucketRoot(t, path, "batches")
		cut := max(records+1, hwm*2/3)
		if cut >= hwm {
			t.Fatalf("batch records on page %d, the last below the high-water mark %d: nothing to cut after them", records, hwm)
		}
		must.NoError(t, os.Truncate(path, int64(cut*ps)))
	}, 10},
}

// TestBoltSalvage damages a closed file in several ways and reopens it: the
// closed batches that verify are kept under their numbers, and every other
// number up to the reservation is in exactly one gap, with the readings of
// the batches lost where their records could be read.
func TestBoltSalvage(t *testing.T) {
	for _, c := range salvageCases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "buffer.db")
			b, err := buffer.OpenBolt(path, buffer.Options{})
			must.NoError(t, err)
			for range 40 {
				buffertest.FillSigned(t, b, "telemetry", t0, 3, 300)
			}
			buffertest.Fill(t, b, "personal", t0, 3, 300, true) // 41, open
			must.NoError(t, b.Ack(1, 2, 3, 4, 5))
			must.NoError(t, b.Close())
			c.damage(t, path)

			b = openBoltAt(t, path, buffer.Options{Verify: buffertest.Verify})
			if r := b.Recovered(); !strings.Contains(r, "corrupt buffer file moved to") {
				t.Fatalf("Recovered = %q, want the damage found", r)
			}
			t.Logf("recovered: %s", b.Recovered())
			kept, err := b.Next(0, 1000)
			must.NoError(t, err)
			gaps := buffertest.Gaps(t, b)
			salvaged := 0
			for _, k := range kept {
				if k.Seq > 5 {
					salvaged++
				}
				checkSigned(t, k, "telemetry", 3, 300)
			}
			if salvaged < c.minKept {
				t.Errorf("%d of 35 batches salvaged, want at least %d", salvaged, c.minKept)
			}
			checkAccounted(t, kept, gaps, 1, 10000)
			for _, g := range gaps {
				if g.Readings != 9*g.Batches {
					t.Errorf("gap %+v: want 9 readings a batch", g)
				}
				// Numbers 1 to 41 held batches: a gap over them states
				// their readings or that it does not know them, never zero.
				if g.FromSeq <= 41 && g.Batches == 0 && !strings.HasSuffix(g.Reason, buffer.ReasonCountUnknown) {
					t.Errorf("gap %+v: zero readings over numbers the file used", g)
				}
				if g.FromSeq <= 41 && g.ToSeq >= 41 && c.minKept == 35 && (g.Batches != 1 || g.Readings != 9) {
					t.Errorf("gap %+v: want exactly the open batch 41 and its 9 readings", g)
				}
			}
		})
	}
}

// checkAccounted requires every number from..to to be either a kept batch
// or in exactly one gap.
func checkAccounted(t *testing.T, kept []buffer.Batch, gaps []buffer.Gap, from, to uint64) {
	t.Helper()
	var all []buffer.Gap
	for _, k := range kept {
		all = append(all, buffer.Gap{FromSeq: k.Seq, ToSeq: k.Seq})
	}
	checkCover(t, append(all, gaps...), from, to)
}

// damageUnder damages the pages of a store's open file, as a failing card
// would, while bbolt has it mapped.
func damageUnder(t *testing.T, path string, how string) {
	t.Helper()
	ps, _, _, hwm := boltMeta(t, path)
	switch how {
	case "zero": // every page but the meta pages: bbolt panics on them
		patch(t, path, int64(2*ps), make([]byte, (hwm-2)*ps))
	case "truncate": // the mapped pages vanish: reading them faults (SIGBUS)
		must.NoError(t, os.Truncate(path, int64(2*ps)))
	}
}

// TestBoltDamagedWhileOpen: when bbolt panics or faults on pages damaged
// under a running store, on a read (Next, as the uplink calls it) or on a
// commit (Begin), the store moves the file aside, salvages it and goes on
// with a fresh file: the batch being filled continues, and every number
// stored before is in a gap.
func TestBoltDamagedWhileOpen(t *testing.T) {
	for _, how := range []string{"zero", "truncate"} {
		for _, path := range []string{"read", "commit"} {
			t.Run(how+"-"+path, func(t *testing.T) {
				file := filepath.Join(t.TempDir(), "buffer.db")
				b := openBoltAt(t, file, buffer.Options{Verify: buffertest.Verify, Now: testclock.New(t0).Now})
				for range 20 {
					buffertest.FillSigned(t, b, "telemetry", t0, 3, 300)
				}
				open := buffertest.Begin(t, b, "personal", t0) // 21
				chunks := [][]byte{buffertest.Chunk(open, 0, 300)}
				must.NoError(t, b.Append(open, chunks[0], 3))
				must.NoError(t, b.Ack(1, 2))
				damageUnder(t, file, how)

				switch path {
				case "read":
					if _, err := b.Next(0, 100); err != nil {
						t.Fatalf("Next on a damaged file: %v", err)
					}
				case "commit":
					buffertest.FillSigned(t, b, "telemetry", t0, 1, 10) // 22
				}
				if r := b.Recovered(); !strings.Contains(r, "buffer.db.corrupt-20261125T090000Z") {
					t.Fatalf("Recovered = %q, want the moved-aside file", r)
				}
				chunks = append(chunks, buffertest.Chunk(open, 1, 300))
				if err := b.Append(open, chunks[1], 3); err != nil {
					t.Fatalf("Append to the open batch after the damage: %v", err)
				}
				must.NoError(t, b.Seal(open, buffertest.Signed(buffertest.Header(open), chunks)))
				must.NoError(t, b.Sync())
				kept, err := b.Next(0, 100)
				must.NoError(t, err)
				i := slices.IndexFunc(kept, func(k buffer.Batch) bool { return k.Seq == open })
				if i < 0 {
					t.Fatalf("open batch %d lost: Next = %v", open, buffertest.Seqs(kept))
				}
				checkSigned(t, kept[i], "personal", 2, 300)
				gaps := buffertest.Gaps(t, b)
				last := uint64(21)
				if path == "commit" {
					last = 22
				}
				// 1 and 2 were acknowledged: only 3..20 may need a record.
				var all []buffer.Gap
				for _, k := range kept {
					all = append(all, buffer.Gap{FromSeq: k.Seq, ToSeq: k.Seq})
				}
				all = append(all, gaps...)
				all = append(all, buffer.Gap{FromSeq: 1, ToSeq: 2})
				checkCover(t, all, 1, last)
				if st := b.Stats(); st.CommitErr != nil {
					t.Errorf("CommitErr = %v after the file was replaced", st.CommitErr)
				}
			})
		}
	}
}

// TestBoltVerifyDropsDamagedBatch: bbolt keeps no checksum of values, so a
// byte flipped inside a chunk passes the open check; the batch then fails
// Verify when it is read for publishing, and is reported as a gap with its
// readings instead of published.
func TestBoltVerifyDropsDamagedBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "buffer.db")
	b, err := buffer.OpenBolt(path, buffer.Options{})
	must.NoError(t, err)
	for range 3 {
		buffertest.FillSigned(t, b, "telemetry", t0, 2, 300)
	}
	must.NoError(t, b.Close())
	data, err := os.ReadFile(path)
	must.NoError(t, err)
	at := bytes.Index(data, buffertest.Chunk(2, 1, 300))
	if at < 0 {
		t.Fatal("chunk 1 of batch 2 not found in the file")
	}
	patch(t, path, int64(at+100), []byte{data[at+100] ^ 0x01})

	b = openBoltAt(t, path, buffer.Options{Verify: buffertest.Verify})
	if r := b.Recovered(); r != "" {
		t.Fatalf("a flipped byte in a value failed the open check: %s", r)
	}
	kept, err := b.Next(0, 10)
	must.NoError(t, err)
	if got := buffertest.Seqs(kept); !slices.Equal(got, []uint64{1, 3}) {
		t.Fatalf("Next = %v, want [1 3]: batch 2 fails Verify", got)
	}
	gaps := buffertest.Gaps(t, b)
	want := buffer.Gap{FromSeq: 2, ToSeq: 2, Batches: 1, Readings: 6, Reason: buffer.ReasonDamagedBatch}
	if len(gaps) != 1 || gaps[0] != want {
		t.Fatalf("gaps = %+v, want %+v", gaps, want)
	}
	if st := b.Stats(); st.Batches != 3 || st.DroppedBatches != 1 || st.DroppedReadings != 6 {
		t.Fatalf("Stats = %+v, want batches 1, 3 and the gap record; 1 dropped with 6 readings", st)
	}
}

// checkSigned verifies that b is a batch as FillSigned builds it.
func checkSigned(t *testing.T, b buffer.Batch, class string, n, size int) {
	t.Helper()
	signed := b
	signed.Trailer = buffertest.Trailer(b.Seq)
	buffertest.CheckBatch(t, signed, b.Seq, class, n, size, true)
	if err := buffertest.Verify(b); err != nil {
		t.Error(err)
	}
}

// TestBoltDamagedOnFullDisk: a damaged file found at open on a full disk
// cannot be replaced yet. The store opens all the same, keeps what it
// accepts in memory, and replaces the file (salvaging it) once there is
// room; the batch accepted meanwhile is stored after the salvaged ones.
func TestBoltDamagedOnFullDisk(t *testing.T) {
	path, free := damagedOnFullDisk(t)
	b := openBoltAt(t, path, buffer.Options{Verify: buffertest.Verify, Durability: time.Hour})
	if kept, err := b.Next(0, 100); err != nil || len(kept) != 0 {
		t.Fatalf("Next without a file = %v, %v; want nothing", buffertest.Seqs(kept), err)
	}
	seq := holdOne(t, b)
	free()
	if err := b.Sync(); err != nil {
		t.Fatalf("Sync once the disk has room: %v", err)
	}
	if r := b.Recovered(); !strings.Contains(r, "corrupt buffer file moved to") {
		t.Fatalf("Recovered = %q, want the file replaced", r)
	}
	kept, err := b.Next(0, 100)
	must.NoError(t, err)
	if len(kept) < 5 || kept[len(kept)-1].Seq != seq {
		t.Fatalf("Next = %v, want the batches of 1..10 outside the zeroed page, and %d", buffertest.Seqs(kept), seq)
	}
	checkAccounted(t, kept, buffertest.Gaps(t, b), 1, seq)
}

// TestBoltHeldOnDamagedFileKilled: a store that opens on a damaged file
// with the disk full cannot replace the file; it numbers on from its
// reservation and holds what it accepts in memory, and it is killed. At the
// next start that can replace the file, the batches held so are reported
// with their readings, also when a start between them found the disk still
// full and was killed holding one more; no gap says their numbers were
// never used.
func TestBoltHeldOnDamagedFileKilled(t *testing.T) {
	for _, starts := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d-starts-on-a-full-disk", starts), func(t *testing.T) {
			path, free := damagedOnFullDisk(t)
			held := map[uint64]bool{}
			for range starts {
				// Not closed: the process is killed.
				b, err := buffer.OpenBolt(path, buffer.Options{Verify: buffertest.Verify, Durability: time.Hour})
				must.NoError(t, err)
				held[holdOne(t, b)] = true
			}
			free()
			b := openBoltAt(t, path, buffer.Options{Verify: buffertest.Verify})
			if r := b.Recovered(); !strings.Contains(r, "corrupt buffer file moved to") {
				t.Fatalf("Recovered = %q, want the file replaced", r)
			}
			var counted uint64
			for _, g := range buffertest.Gaps(t, b) {
				for seq := range held {
					if seq < g.FromSeq || seq > g.ToSeq {
						continue
					}
					if g.Reason != buffer.ReasonDiskFull {
						t.Errorf("held batch %d in gap %+v, want one with reason %s", seq, g, buffer.ReasonDiskFull)
					}
					counted += g.Readings
				}
			}
			if want := uint64(3 * len(held)); counted != want {
				t.Errorf("gaps count %d readings of the held batches %v, want %d", counted, slices.Sorted(maps.Keys(held)), want)
			}
		})
	}
}

// damagedOnFullDisk returns the path of a buffer file with ten batches and
// a zeroed chunk page, on a filesystem filled up, and the function that
// frees it.
func damagedOnFullDisk(t *testing.T) (string, func()) {
	t.Helper()
	dir := mountTmpfs(t, "4m")
	path := filepath.Join(dir, "buffer.db")
	b, err := buffer.OpenBolt(path, buffer.Options{})
	must.NoError(t, err)
	for range 10 {
		buffertest.FillSigned(t, b, "telemetry", t0, 3, 300)
	}
	must.NoError(t, b.Close())
	ps, id := chunkLeaf(t, path)
	patch(t, path, int64(id*ps), make([]byte, ps))
	return path, buffertest.FillDisk(t, dir)
}

// holdOne requires b to have opened without a file, accepts a sealed batch
// of 3 readings that b cannot commit, and returns its number.
func holdOne(t *testing.T, b *buffer.Bolt) uint64 {
	t.Helper()
	if r := b.Recovered(); !strings.Contains(r, "not replaced yet") {
		t.Fatalf("Recovered = %q, want the replacement pending", r)
	}
	seq := buffertest.Begin(t, b, "personal", t0)
	chunk := buffertest.Chunk(seq, 0, 300)
	must.NoError(t, b.Append(seq, chunk, 3))
	must.NoError(t, b.Seal(seq, buffertest.Signed(buffertest.Header(seq), [][]byte{chunk})))
	if err := b.Sync(); !errors.Is(err, buffer.ErrNotCommitted) {
		t.Fatalf("Sync on a full disk without a file: %v, want %v", err, buffer.ErrNotCommitted)
	}
	return seq
}
