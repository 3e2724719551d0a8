package store

import (
	"errors"
	"math/bits"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/edgegw/edgegw/internal/must"
)

func TestMissingRanges(t *testing.T) {
	nr := func(from, to uint64) MissingRange {
		return MissingRange{Gateway: "gw", From: from, To: to, Cause: CauseNotReceived}
	}
	gr := func(from, to uint64, g gapRow) MissingRange {
		return MissingRange{Gateway: "gw", From: from, To: to, Cause: CauseGapRecord, Reason: g.reason, RecordSeq: g.seq, Readings: g.readings}
	}
	g10 := gapRow{seq: 10, from: 3, to: 6, readings: 40, reason: "max-bytes"}
	g11 := gapRow{seq: 11, from: 5, to: 8, readings: 50, reason: "max-age"}
	for _, tc := range []struct {
		name     string
		received [][2]uint64
		gaps     []gapRow
		want     []MissingRange
	}{
		{"nothing", nil, nil, nil},
		{"contiguous", [][2]uint64{{1, 5}}, nil, nil},
		{"hole", [][2]uint64{{1, 2}, {5, 5}}, nil, []MissingRange{nr(3, 4)}},
		{"first numbers", [][2]uint64{{4, 5}}, nil, []MissingRange{nr(1, 3)}},
		{"overlapping records", [][2]uint64{{1, 2}, {10, 11}}, []gapRow{g10, g11},
			[]MissingRange{gr(3, 6, g10), gr(7, 8, g11), nr(9, 9)}},
		{"record inside a record", [][2]uint64{{1, 1}, {10, 11}}, []gapRow{{seq: 10, from: 2, to: 8}, {seq: 11, from: 3, to: 4}},
			[]MissingRange{gr(2, 8, gapRow{seq: 10}), nr(9, 9)}},
		{"record above the batches", [][2]uint64{{1, 1}}, []gapRow{{seq: 1, from: 5, to: 7}},
			[]MissingRange{nr(2, 4), gr(5, 7, gapRow{seq: 1})}},
		{"record inside a hole", [][2]uint64{{1, 1}, {10, 10}}, []gapRow{{seq: 10, from: 4, to: 5}},
			[]MissingRange{nr(2, 3), gr(4, 5, gapRow{seq: 10}), nr(6, 9)}},
		{"record over received batches", [][2]uint64{{1, 1}, {3, 4}}, []gapRow{{seq: 4, from: 1, to: 3}},
			[]MissingRange{gr(2, 2, gapRow{seq: 4})}},
		{"huge", [][2]uint64{{1, 2}, {MaxSeq, MaxSeq}}, nil, []MissingRange{nr(3, MaxSeq-1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := missingRanges("gw", tc.received, tc.gaps); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("missingRanges =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

// TestMissingRangesModel compares missingRanges with a sequence number by
// sequence number model on random small cases.
func TestMissingRangesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		const n = 40
		var received [][2]uint64
		have := map[uint64]bool{}
		for s := uint64(1); s <= n; s++ {
			if rng.IntN(3) == 0 {
				have[s] = true
				received = appendRange(received, s, s)
			}
		}
		var gaps []gapRow
		for i := range rng.IntN(4) {
			from := 1 + rng.Uint64N(n)
			gaps = append(gaps, gapRow{seq: uint64(100 + i), from: from, to: from + rng.Uint64N(8), reason: "r"})
		}
		slices.SortFunc(gaps, func(a, b gapRow) int {
			if a.from != b.from {
				return int(a.from) - int(b.from)
			}
			return int(a.seq) - int(b.seq)
		})
		var top uint64
		if len(received) > 0 {
			top = received[len(received)-1][1]
		}
		for _, g := range gaps {
			top = max(top, g.to)
		}
		var want []MissingRange
		for s := uint64(1); s <= top; s++ {
			if have[s] {
				continue
			}
			m := MissingRange{Gateway: "gw", From: s, To: s, Cause: CauseNotReceived}
			for _, g := range gaps { // the first covering record in order
				if g.from <= s && s <= g.to {
					m = MissingRange{Gateway: "gw", From: s, To: s, Cause: CauseGapRecord, Reason: g.reason, RecordSeq: g.seq}
					break
				}
			}
			if k := len(want) - 1; k >= 0 && want[k].To == s-1 && want[k].Cause == m.Cause && want[k].RecordSeq == m.RecordSeq {
				want[k].To = s
			} else {
				want = append(want, m)
			}
		}
		if got := missingRanges("gw", received, gaps); !reflect.DeepEqual(got, want) {
			t.Fatalf("received %v gaps %+v:\nmissingRanges =\n%+v\nmodel\n%+v", received, gaps, got, want)
		}
	}
}

func TestAppendRange(t *testing.T) {
	var rs [][2]uint64
	for _, r := range [][2]uint64{{1, 1}, {2, 3}, {3, 3}, {5, 9}, {6, 7}, {10, 10}, {12, 12}} {
		rs = appendRange(rs, r[0], r[1])
	}
	if want := [][2]uint64{{1, 3}, {5, 10}, {12, 12}}; !reflect.DeepEqual(rs, want) {
		t.Errorf("appendRange gave %v, want %v", rs, want)
	}
}

func TestParseDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn, target string
		eng         Engine
		err         bool
	}{
		{dsn: "postgres://ingest@db.example/edgegw", eng: PostgreSQL, target: "postgres://ingest@db.example/edgegw"},
		{dsn: "postgresql:///edgegw?host=/run/postgresql", eng: PostgreSQL, target: "postgresql:///edgegw?host=/run/postgresql"},
		{dsn: "host=/run/postgresql dbname=edgegw", eng: PostgreSQL, target: "host=/run/postgresql dbname=edgegw"},
		{dsn: "dbname=edgegw user=ingest", eng: PostgreSQL, target: "dbname=edgegw user=ingest"},
		{dsn: "sqlite:/var/lib/edgegw/ingest.db", eng: SQLite, target: "/var/lib/edgegw/ingest.db"},
		{dsn: "ingest.db", eng: SQLite, target: "ingest.db"},
		{dsn: "", err: true},
		{dsn: "sqlite:", err: true},
		{dsn: "ingest.db?_pragma=x", err: true},
	} {
		eng, target, err := ParseDSN(tc.dsn)
		if tc.err {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseDSN(%q) error = %v, want ErrInvalid", tc.dsn, err)
			}
			continue
		}
		if err != nil || eng != tc.eng || target != tc.target {
			t.Errorf("ParseDSN(%q) = %q, %q, %v; want %q, %q", tc.dsn, eng, target, err, tc.eng, tc.target)
		}
	}
}

// TestMigrationsMatch checks that both engines carry the same numbered
// migrations, so that one version number means one schema.
func TestMigrationsMatch(t *testing.T) {
	lite, err := migrations(SQLite)
	must.NoError(t, err)
	pg, err := migrations(PostgreSQL)
	must.NoError(t, err)
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("%d SQLite and %d PostgreSQL migrations", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].name != pg[i].name {
			t.Errorf("migration %d: %s for SQLite, %s for PostgreSQL", i+1, lite[i].name, pg[i].name)
		}
	}
}

func TestChunks(t *testing.T) {
	for _, tc := range []struct{ perRow, maxParams int }{{8, 32766}, {11, 32766}, {1, 65534}, {7, 20}} {
		for n := range 3000 {
			next, calls := 0, 0
			err := chunks(n, tc.perRow, tc.maxParams, func(off, k int) error {
				calls++
				if off != next || k <= 0 || k&(k-1) != 0 || k > maxChunkRows || k*tc.perRow > tc.maxParams {
					t.Fatalf("n=%d perRow=%d: chunk off=%d k=%d after %d", n, tc.perRow, off, k, next)
				}
				next += k
				return nil
			})
			if err != nil || next != n {
				t.Fatalf("n=%d: chunks covered %d rows, err %v", n, next, err)
			}
			if limit := min(maxChunkRows, tc.maxParams/tc.perRow); calls > n/limit+bits.Len(uint(limit)) {
				t.Fatalf("n=%d perRow=%d: %d chunks", n, tc.perRow, calls)
			}
		}
	}
}

func TestCleanText(t *testing.T) {
	for _, s := range []string{"ok", "bad\xffbyte", "nul\x00", strings.Repeat("é", MaxRejectText)} {
		got := cleanText(s)
		if !utf8.ValidString(got) || strings.IndexByte(got, 0) >= 0 || len(got) > MaxRejectText {
			t.Errorf("cleanText(%.20q...) = %.20q..., %d bytes: want UTF-8 without NUL, at most %d bytes", s, got, len(got), MaxRejectText)
		}
	}
	if got := cleanText("city/gw-1/data/telemetry"); got != "city/gw-1/data/telemetry" {
		t.Errorf("cleanText changed clean text to %q", got)
	}
}

func TestRebind(t *testing.T) {
	if got := rebind("INSERT INTO t VALUES ($1, $2), ($3, $10)"); got != "INSERT INTO t VALUES (?, ?), (?, ?)" {
		t.Errorf("rebind = %q", got)
	}
}

// TestSQLiteSettings checks the writer's durability settings: WAL, and a
// sync of the WAL at every commit.
func TestSQLiteSettings(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ingest.db")
	if _, _, err := Migrate(ctx, path); err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, path)
	must.NoError(t, err)
	defer st.Close()
	w := st.(*sqliteStore).w
	var mode string
	var sync int
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if err := w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous = %d, %v; want 2 (FULL)", sync, err)
	}
}

// TestImports keeps the store apart from the agent: it links no bbolt, no
// hardware or MQTT code, nothing of gateway/ or drivers/.
func TestImports(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the imports with")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"go.etcd.io/bbolt", "periph.io/", "github.com/eclipse/paho", "github.com/edgegw/edgegw/gateway", "github.com/edgegw/edgegw/drivers"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("backend/store links %s", dep)
			}
		}
	}
}
