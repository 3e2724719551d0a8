// Package storetest is the contract suite every store.Store engine passes:
// idempotent commits, reused sequence numbers, gap records, committed and
// missing ranges, huge sequence numbers, replicas racing on the same batches,
// large batches, read-error readings, schema versions and migrations, and
// what the fleet view reads: documents, activity, latest readings, states. It
// checks the database with SQL of its own, not only through the Store.
package storetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edgegw/edgegw/backend/store"
)

// Run runs the suite. open returns the DSN of a new, empty database (no
// schema) each time it is called.
func Run(t *testing.T, open func(t *testing.T) string) {
	s := suite{open: open}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"OpenRefusesUnmigrated", s.openRefusesUnmigrated},
		{"MigrateTwice", s.migrateTwice},
		{"MigrateConcurrently", s.migrateConcurrently},
		{"Idempotent", s.idempotent},
		{"DuplicateWithinOneCommit", s.duplicateWithinOneCommit},
		{"Reused", s.reused},
		{"GapRecord", s.gapRecord},
		{"CommittedOutOfOrder", s.committedOutOfOrder},
		{"MissingCauses", s.missingCauses},
		{"Received", s.received},
		{"HugeSequenceNumbers", s.hugeSequenceNumbers},
		{"RacingStores", s.racingStores},
		{"LargeBatch", s.largeBatch},
		{"ReadError", s.readError},
		{"AuditAndRejects", s.auditAndRejects},
		{"Invalid", s.invalid},
		{"ReadingsAcrossDays", s.readingsAcrossDays},
		{"Reopen", s.reopen},
		{"Docs", s.docs},
		{"Activity", s.activity},
		{"Transitions", s.transitions},
		{"GoodTime", s.goodTime},
		{"MigrateGoodTime", s.migrateGoodTime},
	} {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	open func(t *testing.T) string
}

// Base is the time of the suite's first reading.
var Base = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// DataBatch returns a telemetry batch of gateway gw with sequence number seq
// and n readings one second apart, whose header hash depends on gw, seq and
// variant only.
func DataBatch(gw string, seq uint64, n int, variant string) store.Batch {
	b := store.Batch{
		Gateway: gw, Seq: seq, Class: "telemetry", KeyID: []byte{0xee, 1},
		ConfigVersion: 3, Created: Base, Received: Base.Add(time.Minute),
		HeaderHash: sha256.Sum256(fmt.Appendf(nil, "%s/%d/%s", gw, seq, variant)),
		Size:       100 + 20*n,
	}
	for i := range n {
		v := float64(seq)*1000 + float64(i)
		b.Readings = append(b.Readings, store.Reading{
			Device: "bme280@i2c1:0x76", Channel: fmt.Sprintf("ch%d", i%4), Unit: "Cel",
			Time: Base.Add(time.Duration(i) * time.Second), Value: &v,
		})
	}
	return b
}

// GapBatch returns the gap record seq of gateway gw, covering from..to.
func GapBatch(gw string, seq, from, to, readings uint64, reason string) store.Batch {
	return store.Batch{
		Gateway: gw, Seq: seq, Class: store.ClassGap, Created: Base, Received: Base.Add(time.Minute),
		HeaderHash: sha256.Sum256(fmt.Appendf(nil, "%s/%d/gap", gw, seq)), Size: 90,
		Gap: &store.Gap{FromSeq: from, ToSeq: to, Batches: to - from + 1, Readings: readings, Reason: reason},
	}
}

// migrated returns a migrated database's DSN and a Store on it, closed when
// the test ends.
func (s suite) migrated(t *testing.T) (string, store.Store) {
	t.Helper()
	dsn := s.open(t)
	return dsn, Open(t, dsn)
}

// Open migrates the database at dsn and returns a Store on it, closed when
// the test ends.
func Open(t testing.TB, dsn string) store.Store {
	t.Helper()
	if _, _, err := store.Migrate(context.Background(), dsn); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return openStore(t, dsn)
}

func openStore(t testing.TB, dsn string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

func commit(t *testing.T, st store.Store, want []store.Outcome, batches ...store.Batch) {
	t.Helper()
	got, err := st.Commit(context.Background(), batches)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Commit outcomes = %v, want %v", got, want)
	}
}

func outcomes(o store.Outcome, n int) []store.Outcome { return slices.Repeat([]store.Outcome{o}, n) }

// Scalar runs a query returning one value on the database dsn names, with a
// connection of its own, and scans it into dest.
func Scalar(t testing.TB, dsn, query string, dest any) {
	t.Helper()
	onDB(t, dsn, query,
		func(ctx context.Context, c *pgx.Conn) error { return c.QueryRow(ctx, query).Scan(dest) },
		func(ctx context.Context, db *sql.DB) error { return db.QueryRowContext(ctx, query).Scan(dest) })
}

// Exec runs a statement on the database dsn names, with a connection of its
// own.
func Exec(t testing.TB, dsn, stmt string) {
	t.Helper()
	onDB(t, dsn, stmt,
		func(ctx context.Context, c *pgx.Conn) error { _, err := c.Exec(ctx, stmt); return err },
		func(ctx context.Context, db *sql.DB) error { _, err := db.ExecContext(ctx, stmt); return err })
}

// onDB connects to the database dsn names and runs pg on PostgreSQL or lite
// on SQLite; what names the statement in a failure.
func onDB(t testing.TB, dsn, what string, pg func(context.Context, *pgx.Conn) error, lite func(context.Context, *sql.DB) error) {
	t.Helper()
	ctx := context.Background()
	eng, target, err := store.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if eng == store.PostgreSQL {
		conn, err := pgx.Connect(ctx, target)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		if err := pg(ctx, conn); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return
	}
	db, err := sql.Open("sqlite", target)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	if err := lite(ctx, db); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Count returns the result of a count(*) query.
func Count(t testing.TB, dsn, query string) int64 {
	t.Helper()
	var n int64
	Scalar(t, dsn, query, &n)
	return n
}

func wantCount(t *testing.T, dsn, query string, want int64) {
	t.Helper()
	if n := Count(t, dsn, query); n != want {
		t.Errorf("%s = %d, want %d", query, n, want)
	}
}

// wantValue requires query to return the number want.
func wantValue(t *testing.T, dsn, query string, want float64) {
	t.Helper()
	var v float64
	Scalar(t, dsn, query, &v)
	if v != want {
		t.Errorf("%s = %v, want %v", query, v, want)
	}
}

func wantCommitted(t *testing.T, st store.Store, gw string, want ...[2]uint64) {
	t.Helper()
	got, err := st.Committed(context.Background(), gw)
	if err != nil {
		t.Fatalf("Committed: %v", err)
	}
	if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
		t.Errorf("Committed(%q) = %v, want %v", gw, got, want)
	}
}

func wantMissing(t *testing.T, st store.Store, gw string, want ...store.MissingRange) {
	t.Helper()
	got, err := st.Missing(context.Background(), gw)
	if err != nil {
		t.Fatalf("Missing: %v", err)
	}
	if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
		t.Errorf("Missing(%q) =\n%+v\nwant\n%+v", gw, got, want)
	}
}

func stats(t *testing.T, st store.Store) store.Stats {
	t.Helper()
	s, err := st.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return s
}

func (s suite) openRefusesUnmigrated(t *testing.T) {
	dsn := s.open(t)
	st, err := store.Open(context.Background(), dsn)
	if err == nil {
		st.Close()
		t.Fatal("Open of an unmigrated database succeeded")
	}
	if !errors.Is(err, store.ErrSchemaVersion) || !strings.Contains(err.Error(), "edgegw ingest migrate") {
		t.Errorf("Open error = %v, want ErrSchemaVersion naming `edgegw ingest migrate`", err)
	}
}

func (s suite) migrateTwice(t *testing.T) {
	dsn := s.open(t)
	from, to, err := store.Migrate(context.Background(), dsn)
	if err != nil || from != 0 || to < 1 {
		t.Fatalf("first Migrate = %d, %d, %v; want 0, >=1, nil", from, to, err)
	}
	from2, to2, err := store.Migrate(context.Background(), dsn)
	if err != nil || from2 != to || to2 != to {
		t.Fatalf("second Migrate = %d, %d, %v; want %d, %d, nil", from2, to2, err, to, to)
	}
	wantCount(t, dsn, "SELECT count(*) FROM schema_version", int64(to))
	openStore(t, dsn)
}

func (s suite) migrateConcurrently(t *testing.T) {
	dsn := s.open(t)
	type result struct {
		from, to int
		err      error
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			r := &results[i]
			r.from, r.to, r.err = store.Migrate(context.Background(), dsn)
		})
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("concurrent Migrate: %v", r.err)
		}
	}
	to := results[0].to
	froms := []int{results[0].from, results[1].from}
	slices.Sort(froms)
	if results[1].to != to || froms[0] != 0 || to < 1 {
		t.Fatalf("concurrent Migrate results %+v: want both at one version, one starting at 0", results)
	}
	wantCount(t, dsn, "SELECT count(*) FROM schema_version", int64(to))
	openStore(t, dsn)
}

func (s suite) idempotent(t *testing.T) {
	dsn, st := s.migrated(t)
	b := DataBatch("gw-1", 1, 10, "a")
	commit(t, st, []store.Outcome{store.New}, b)
	commit(t, st, []store.Outcome{store.Duplicate}, b)
	commit(t, st, []store.Outcome{store.Duplicate, store.Duplicate}, b, b)
	wantCount(t, dsn, "SELECT count(*) FROM batches", 1)
	wantCount(t, dsn, "SELECT count(*) FROM readings", 10)
	wantCount(t, dsn, "SELECT count(*) FROM received_ranges", 1)
	wantCount(t, dsn, "SELECT count(*) FROM rejects", 0)
	got := stats(t, st)
	if got.Gateways != 1 || got.Batches != 1 || got.Readings != 10 || len(got.Rejects) != 0 {
		t.Errorf("Stats = %+v, want 1 gateway, 1 batch, 10 readings, no rejects", got)
	}
	wantCommitted(t, st, "gw-1", [2]uint64{1, 1})
}

func (s suite) duplicateWithinOneCommit(t *testing.T) {
	dsn, st := s.migrated(t)
	b1, b2, b2other := DataBatch("gw-1", 1, 3, "a"), DataBatch("gw-1", 2, 3, "a"), DataBatch("gw-1", 2, 5, "other")
	commit(t, st, []store.Outcome{store.New, store.Duplicate, store.New, store.Reused}, b1, b1, b2, b2other)
	wantCount(t, dsn, "SELECT count(*) FROM readings", 6)
	wantCount(t, dsn, "SELECT count(*) FROM rejects WHERE reason = 'reused-seq'", 1)
	wantCommitted(t, st, "gw-1", [2]uint64{1, 2})
}

func (s suite) reused(t *testing.T) {
	dsn, st := s.migrated(t)
	b := DataBatch("gw-1", 7, 10, "a")
	other := DataBatch("gw-1", 7, 4, "b")
	commit(t, st, []store.Outcome{store.New}, b)
	commit(t, st, []store.Outcome{store.Reused}, other)
	wantCount(t, dsn, "SELECT count(*) FROM readings", 10)
	wantCount(t, dsn, "SELECT count(*) FROM batches", 1)
	wantCount(t, dsn, "SELECT count(*) FROM rejects WHERE reason = 'reused-seq' AND gateway = 'gw-1' AND detail LIKE 'seq 7 %'", 1)
	got := stats(t, st)
	if got.Batches != 1 || got.Readings != 10 || got.Rejects[store.ReasonReusedSeq] != 1 {
		t.Errorf("Stats = %+v, want 1 batch, 10 readings, 1 reused-seq reject", got)
	}
	wantValue(t, dsn, "SELECT max(value) FROM readings", 7009) // the stored batch is the first one
}

func (s suite) gapRecord(t *testing.T) {
	dsn, st := s.migrated(t)
	commit(t, st, outcomes(store.New, 3), DataBatch("gw-1", 1, 2, "a"), DataBatch("gw-1", 2, 2, "a"), GapBatch("gw-1", 6, 3, 5, 300, "max-bytes"))
	commit(t, st, outcomes(store.Duplicate, 1), GapBatch("gw-1", 6, 3, 5, 300, "max-bytes"))
	wantCommitted(t, st, "gw-1", [2]uint64{1, 6})
	wantMissing(t, st, "gw-1", store.MissingRange{Gateway: "gw-1", From: 3, To: 5, Cause: store.CauseGapRecord, Reason: "max-bytes", RecordSeq: 6, Readings: 300})
	wantCount(t, dsn, "SELECT count(*) FROM gaps WHERE gateway = 'gw-1' AND seq = 6 AND from_seq = 3 AND to_seq = 5 AND readings = 300 AND reason = 'max-bytes'", 1)
	wantCount(t, dsn, "SELECT count(*) FROM batches WHERE class = 'gap'", 1)
	got := stats(t, st)
	if got.Batches != 3 || got.GapRecords != 1 || got.DroppedReadings != 300 || got.Readings != 4 {
		t.Errorf("Stats = %+v, want 3 batches, 1 gap record, 300 dropped, 4 readings", got)
	}
}

func (s suite) committedOutOfOrder(t *testing.T) {
	dsn, st := s.migrated(t)
	steps := []struct {
		seq  uint64
		want [][2]uint64
	}{
		{5, [][2]uint64{{5, 5}}},
		{3, [][2]uint64{{3, 3}, {5, 5}}},
		{1, [][2]uint64{{1, 1}, {3, 3}, {5, 5}}},
		{2, [][2]uint64{{1, 3}, {5, 5}}},
		{4, [][2]uint64{{1, 5}}},
	}
	for _, step := range steps {
		commit(t, st, outcomes(store.New, 1), DataBatch("gw-1", step.seq, 1, "a"))
		wantCommitted(t, st, "gw-1", step.want...)
	}
	commit(t, st, outcomes(store.New, 3), DataBatch("gw-1", 9, 1, "a"), DataBatch("gw-1", 7, 1, "a"), DataBatch("gw-1", 8, 1, "a"))
	wantCommitted(t, st, "gw-1", [2]uint64{1, 5}, [2]uint64{7, 9})
	commit(t, st, outcomes(store.New, 1), DataBatch("gw-1", 6, 1, "a"))
	wantCommitted(t, st, "gw-1", [2]uint64{1, 9})
	wantCount(t, dsn, "SELECT count(*) FROM received_ranges WHERE gateway = 'gw-1'", 1)
	wantMissing(t, st, "gw-1")
	wantCommitted(t, st, "gw-unknown")
}

func (s suite) missingCauses(t *testing.T) {
	_, st := s.migrated(t)
	commit(t, st, outcomes(store.New, 4),
		DataBatch("gw-a", 1, 1, "a"), DataBatch("gw-a", 2, 1, "a"), DataBatch("gw-a", 5, 1, "a"), GapBatch("gw-a", 9, 6, 7, 20, "max-age"))
	commit(t, st, outcomes(store.New, 1), DataBatch("gw-b", 2, 1, "a"))
	// A gap record may cover batches that did arrive: only the others are missing.
	commit(t, st, outcomes(store.New, 3), DataBatch("gw-c", 1, 1, "a"), DataBatch("gw-c", 3, 1, "a"), GapBatch("gw-c", 4, 1, 3, 7, "max-bytes"))
	a := []store.MissingRange{
		{Gateway: "gw-a", From: 3, To: 4, Cause: store.CauseNotReceived},
		{Gateway: "gw-a", From: 6, To: 7, Cause: store.CauseGapRecord, Reason: "max-age", RecordSeq: 9, Readings: 20},
		{Gateway: "gw-a", From: 8, To: 8, Cause: store.CauseNotReceived},
	}
	b := []store.MissingRange{{Gateway: "gw-b", From: 1, To: 1, Cause: store.CauseNotReceived}}
	c := []store.MissingRange{{Gateway: "gw-c", From: 2, To: 2, Cause: store.CauseGapRecord, Reason: "max-bytes", RecordSeq: 4, Readings: 7}}
	wantMissing(t, st, "gw-a", a...)
	wantMissing(t, st, "gw-b", b...)
	wantMissing(t, st, "gw-c", c...)
	wantMissing(t, st, "", slices.Concat(a, b, c)...)
	wantCommitted(t, st, "gw-a", [2]uint64{1, 2}, [2]uint64{5, 7}, [2]uint64{9, 9})
	wantCommitted(t, st, "gw-c", [2]uint64{1, 4})
}

// received: the times of committed batches and gap records, nothing for
// sequence numbers not committed or out of range.
func (s suite) received(t *testing.T) {
	_, st := s.migrated(t)
	b1, b3 := DataBatch("gw-a", 1, 1, "a"), DataBatch("gw-a", 3, 1, "a")
	b3.Received = Base.Add(time.Hour)
	gap := GapBatch("gw-a", 4, 2, 2, 5, "max-age")
	gap.Received = Base.Add(2 * time.Hour)
	commit(t, st, outcomes(store.New, 4), b1, b3, gap, DataBatch("gw-b", 2, 1, "a"))
	seqs := []uint64{0, 1, 2, 3, 4, 5, store.MaxSeq + 1}
	for i := range 600 { // more than one query's worth
		seqs = append(seqs, uint64(10+i))
	}
	got, err := st.Received(context.Background(), "gw-a", seqs)
	if err != nil {
		t.Fatalf("Received: %v", err)
	}
	want := map[uint64]time.Time{1: b1.Received, 3: b3.Received, 4: gap.Received}
	if len(got) != len(want) {
		t.Errorf("Received = %v, want %v", got, want)
	}
	for seq, at := range want {
		if !got[seq].Equal(at) {
			t.Errorf("Received[%d] = %v, want %v", seq, got[seq], at)
		}
	}
	if none, err := st.Received(context.Background(), "gw-b", nil); err != nil || len(none) != 0 {
		t.Errorf("Received of no sequence numbers = %v, %v", none, err)
	}
}

func (s suite) hugeSequenceNumbers(t *testing.T) {
	_, st := s.migrated(t)
	const top = 1_796_130_271
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	commit(t, st, outcomes(store.New, 3), DataBatch("gw-1", 1, 1, "a"), DataBatch("gw-1", top, 1, "a"), DataBatch("gw-1", 2, 1, "a"))
	wantCommitted(t, st, "gw-1", [2]uint64{1, 2}, [2]uint64{top, top})
	wantMissing(t, st, "gw-1", store.MissingRange{Gateway: "gw-1", From: 3, To: top - 1, Cause: store.CauseNotReceived})
	commit(t, st, outcomes(store.New, 1), GapBatch("gw-1", top+1, 3, top-1, 0, "max-bytes"))
	wantCommitted(t, st, "gw-1", [2]uint64{1, top + 1})
	wantMissing(t, st, "gw-1", store.MissingRange{Gateway: "gw-1", From: 3, To: top - 1, Cause: store.CauseGapRecord, Reason: "max-bytes", RecordSeq: top + 1})
	runtime.ReadMemStats(&after)
	// One bit per sequence number would be 214 MiB; the ranges take bytes.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("committing and listing 3 batches among 1..%d allocated %d bytes: proportional to sequence numbers", top, alloc)
	}
	commit(t, st, outcomes(store.New, 1), DataBatch("gw-1", store.MaxSeq, 1, "a"))
	wantCommitted(t, st, "gw-1", [2]uint64{1, top + 1}, [2]uint64{store.MaxSeq, store.MaxSeq})
}

func (s suite) racingStores(t *testing.T) {
	dsn, st1 := s.migrated(t)
	st2 := openStore(t, dsn)
	const batches, perBatch, group = 40, 50, 5
	var all []store.Batch
	for seq := uint64(1); seq <= batches; seq++ {
		gw := "gw-1"
		if seq%3 == 0 {
			gw = "gw-2"
		}
		all = append(all, DataBatch(gw, seq, perBatch, "a"))
	}
	var mu sync.Mutex
	news := map[uint64]int{}
	var wg sync.WaitGroup
	for w, st := range []store.Store{st1, st1, st2, st2} {
		order := slices.Clone(all)
		rand.New(rand.NewPCG(uint64(w), 7)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		wg.Go(func() {
			for i := 0; i < len(order); i += group {
				part := order[i:min(i+group, len(order))]
				out, err := st.Commit(context.Background(), part)
				if err != nil {
					t.Errorf("racing Commit: %v", err)
					return
				}
				mu.Lock()
				for j, o := range out {
					switch o {
					case store.New:
						news[part[j].Seq]++
					case store.Duplicate:
					default:
						t.Errorf("racing Commit: seq %d %v", part[j].Seq, o)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for seq := uint64(1); seq <= batches; seq++ {
		if news[seq] != 1 {
			t.Errorf("seq %d committed as new %d times, want once", seq, news[seq])
		}
	}
	wantCount(t, dsn, "SELECT count(*) FROM batches", batches)
	wantCount(t, dsn, "SELECT count(*) FROM readings", batches*perBatch)
	wantCount(t, dsn, "SELECT count(*) FROM (SELECT gateway, seq, time, channel FROM readings GROUP BY gateway, seq, time, channel HAVING count(*) > 1) AS dup", 0)
	// gw-2 has the multiples of 3, each a range of its own (13); gw-1 the
	// runs between them (13) and 40.
	wantCount(t, dsn, "SELECT count(*) FROM received_ranges", 27)
	got := stats(t, st2)
	if got.Batches != batches || got.Readings != batches*perBatch || got.Gateways != 2 {
		t.Errorf("Stats = %+v, want %d batches, %d readings, 2 gateways", got, batches, batches*perBatch)
	}
}

func (s suite) largeBatch(t *testing.T) {
	dsn, st := s.migrated(t)
	commit(t, st, outcomes(store.New, 1), DataBatch("gw-1", 1, 10_000, "a"))
	wantCount(t, dsn, "SELECT count(*) FROM readings", 10_000)
	wantCount(t, dsn, "SELECT count(DISTINCT value) FROM readings", 10_000)
	wantCount(t, dsn, "SELECT readings FROM batches WHERE seq = 1", 10_000)
	commit(t, st, outcomes(store.Duplicate, 1), DataBatch("gw-1", 1, 10_000, "a"))
	wantCount(t, dsn, "SELECT count(*) FROM readings", 10_000)
}

func (s suite) readError(t *testing.T) {
	dsn, st := s.migrated(t)
	b := DataBatch("gw-1", 1, 2, "a")
	b.Readings[1].Value = nil
	b.Readings[1].Flags = 1 << 4 // reading.ReadError
	neg := math.Inf(-1)
	b.Readings = append(b.Readings, store.Reading{Device: "d", Channel: "c", Unit: "V", Time: Base, Value: &neg})
	commit(t, st, outcomes(store.New, 1), b)
	wantCount(t, dsn, "SELECT count(*) FROM readings WHERE value IS NULL AND flags = 16", 1)
	wantCount(t, dsn, "SELECT count(*) FROM readings WHERE value IS NOT NULL", 2)
	wantValue(t, dsn, "SELECT value FROM readings WHERE flags = 0 AND channel = 'ch0'", 1000)
}

func (s suite) auditAndRejects(t *testing.T) {
	dsn, st := s.migrated(t)
	audit := store.Batch{Gateway: "gw-1", Seq: 4, Class: store.ClassAudit, Created: Base, Received: Base,
		HeaderHash: sha256.Sum256([]byte("audit")), Audit: []byte(`{"action":"config.apply","uid":0}`)}
	commit(t, st, outcomes(store.New, 1), audit)
	commit(t, st, outcomes(store.Duplicate, 1), audit)
	wantCount(t, dsn, "SELECT count(*) FROM audit WHERE gateway = 'gw-1' AND seq = 4", 1)
	wantCount(t, dsn, "SELECT count(*) FROM batches WHERE class = 'audit'", 1)
	err := st.Reject(context.Background(), []store.Reject{
		{Time: Base, Reason: "bad-signature", Gateway: "gw-9", Topic: "city/gw-9/data/telemetry", Detail: "signature does not verify", Size: 300},
		{Time: Base, Reason: "bad-signature", Gateway: "gw-9", Topic: "city/gw-9/data/telemetry", Size: 301},
		{Time: Base, Reason: "malformed", Topic: "city/\xff\x00/data/" + strings.Repeat("x", 5000), Size: 9},
	})
	if err != nil {
		t.Fatalf("Reject: %v", err)
	}
	wantCount(t, dsn, "SELECT count(*) FROM rejects", 3)
	wantCount(t, dsn, fmt.Sprintf("SELECT count(*) FROM rejects WHERE reason = 'malformed' AND length(topic) <= %d", store.MaxRejectText), 1)
	got := stats(t, st)
	if got.Audits != 1 || got.Batches != 1 || got.Rejects["bad-signature"] != 2 || got.Rejects["malformed"] != 1 {
		t.Errorf("Stats = %+v, want 1 audit, 2 bad-signature and 1 malformed rejects", got)
	}
}

func (s suite) invalid(t *testing.T) {
	dsn, st := s.migrated(t)
	nan := math.NaN()
	cases := map[string]func(b *store.Batch){
		"seq 0":            func(b *store.Batch) { b.Seq = 0 },
		"seq above MaxSeq": func(b *store.Batch) { b.Seq = store.MaxSeq + 1 },
		"no gateway":       func(b *store.Batch) { b.Gateway = "" },
		"gap without gap":  func(b *store.Batch) { b.Class = store.ClassGap; b.Readings = nil },
		"NaN value":        func(b *store.Batch) { b.Readings[0].Value = &nan },
		"device not UTF-8": func(b *store.Batch) { b.Readings[0].Device = "bme\xff" },
		"audit not JSON":   func(b *store.Batch) { b.Class, b.Readings, b.Audit = store.ClassAudit, nil, []byte("[1]") },
		"year 10000":       func(b *store.Batch) { b.Readings[0].Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for name, spoil := range cases {
		b := DataBatch("gw-1", 2, 2, "a")
		spoil(&b)
		_, err := st.Commit(context.Background(), []store.Batch{DataBatch("gw-1", 1, 2, "a"), b})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: Commit error = %v, want ErrInvalid", name, err)
		}
	}
	wantCount(t, dsn, "SELECT count(*) FROM batches", 0)
	wantCount(t, dsn, "SELECT count(*) FROM readings", 0)
}

func (s suite) readingsAcrossDays(t *testing.T) {
	dsn, st := s.migrated(t)
	b := DataBatch("gw-1", 1, 4, "a")
	for i := range b.Readings {
		b.Readings[i].Time = Base.AddDate(0, 0, i-1) // the day before Base up to two days after
	}
	b2 := DataBatch("gw-1", 2, 1, "a")
	b2.Readings[0].Time = time.Unix(0, 0) // a gateway whose clock was never set
	commit(t, st, outcomes(store.New, 2), b, b2)
	wantCount(t, dsn, "SELECT count(*) FROM readings", 5)
	wantCount(t, dsn, "SELECT count(*) FROM readings WHERE time < '2026-12-01T00:00:00Z'", 2)
}

func (s suite) reopen(t *testing.T) {
	dsn := s.open(t)
	if _, _, err := store.Migrate(context.Background(), dsn); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	commit(t, st, outcomes(store.New, 3), DataBatch("gw-1", 1, 2, "a"), DataBatch("gw-1", 2, 2, "a"), DataBatch("gw-1", 4, 2, "a"))
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st2 := openStore(t, dsn)
	wantCommitted(t, st2, "gw-1", [2]uint64{1, 2}, [2]uint64{4, 4})
	commit(t, st2, []store.Outcome{store.Duplicate, store.New}, DataBatch("gw-1", 2, 2, "a"), DataBatch("gw-1", 3, 2, "a"))
	wantCommitted(t, st2, "gw-1", [2]uint64{1, 4})
	wantCount(t, dsn, "SELECT count(*) FROM readings", 8)
}
