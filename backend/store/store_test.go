package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/backend/store/pgtest"
	"github.com/edgegw/edgegw/backend/store/storetest"
)

func sqliteDSN(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "ingest.db") }

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) string { return sqliteDSN(t) })
}

func TestIntegrationPostgres(t *testing.T) {
	c := pgtest.Start(t)
	storetest.Run(t, func(t *testing.T) string { return c.NewDatabase(t) })
}

// TestIntegrationPostgresRestart stops PostgreSQL while two committers are
// writing and starts it again: every batch whose Commit returned nil is
// stored, and batches committed again after failed Commits (as a gateway
// republishes what no receipt covered) are stored once.
func TestIntegrationPostgresRestart(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	if _, _, err := store.Migrate(ctx, c.DSN); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, c.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	type result struct {
		gw  string
		seq uint64
		err error
	}
	results := make(chan result)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, gw := range []string{"gw-a", "gw-b"} {
		wg.Go(func() {
			// Like the ingest: a failed batch is not acknowledged and comes
			// back; the next one waits for it.
			retry := time.NewTicker(10 * time.Millisecond)
			defer retry.Stop()
			for seq := uint64(1); ; {
				_, err := st.Commit(ctx, []store.Batch{storetest.DataBatch(gw, seq, 10, "a")})
				select {
				case results <- result{gw, seq, err}:
				case <-stop:
					return
				}
				if err == nil {
					seq++
					continue
				}
				select {
				case <-retry.C:
				case <-stop:
					return
				}
			}
		})
	}
	acked := map[string]uint64{}
	await := func(what string, ok func(r result) bool) {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for {
			select {
			case r := <-results:
				if r.err == nil {
					acked[r.gw] = max(acked[r.gw], r.seq)
				}
				if ok(r) {
					return
				}
			case <-timeout:
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	count := func(n int, err bool) func(result) bool {
		return func(r result) bool {
			if (r.err != nil) == err {
				n--
			}
			return n <= 0
		}
	}
	await("20 commits", count(20, false))
	c.Stop()
	await("3 failed commits while PostgreSQL is stopped", count(3, true))
	c.Start()
	await("20 commits after the restart", count(20, false))
	close(stop)
	wg.Wait()

	for gw, top := range acked {
		got, err := st.Committed(ctx, gw)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0][0] != 1 || got[0][1] < top {
			t.Errorf("%s: Committed = %v, want 1..%d (every acknowledged batch) at least", gw, got, top)
		}
		if n := storetest.Count(t, c.DSN, fmt.Sprintf("SELECT count(*) FROM readings WHERE gateway = '%s'", gw)); n != int64(got[0][1])*10 {
			t.Errorf("%s: %d readings for batches 1..%d of 10 readings", gw, n, got[0][1])
		}
		missing, err := st.Missing(ctx, gw)
		if err != nil || len(missing) != 0 {
			t.Errorf("%s: Missing = %v, %v; want none", gw, missing, err)
		}
	}
}
