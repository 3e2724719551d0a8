package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/backend/store/pgtest"
	"github.com/edgegw/edgegw/backend/store/storetest"
	"github.com/edgegw/edgegw/internal/must"
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
	st := storetest.Open(t, c.DSN)

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
		must.NoError(t, err)
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

// writerEnv names, in the child process of TestIntegrationSQLiteKilledWriter,
// the SQLite file to write to.
const writerEnv = "EDGEGW_STORE_TEST_WRITER"

// TestIntegrationSQLiteKilledWriter kills (SIGKILL) a process committing to
// SQLite: every batch whose Commit had returned is there after reopening, no
// batch is there in part, and the file is intact.
func TestIntegrationSQLiteKilledWriter(t *testing.T) {
	if path := os.Getenv(writerEnv); path != "" {
		killedWriter(t, path)
		return
	}
	if testing.Short() {
		t.Skip("starts and kills a writer process: skipped under -short")
	}
	ctx := context.Background()
	dsn := sqliteDSN(t)
	if _, _, err := store.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestIntegrationSQLiteKilledWriter$")
	cmd.Env = append(os.Environ(), writerEnv+"="+dsn)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must.NoError(t, err)
	must.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill() })
	var acked uint64
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if _, err := fmt.Sscanf(lines.Text(), "committed %d", &acked); err != nil {
			t.Fatalf("writer said %q", lines.Text())
		}
		if acked == 30 {
			must.NoError(t, cmd.Process.Kill())
		}
	}
	cmd.Wait()
	if acked < 30 {
		t.Fatalf("writer stopped after %d commits", acked)
	}

	st, err := store.Open(ctx, dsn)
	must.NoError(t, err)
	defer st.Close()
	got, err := st.Committed(ctx, "gw-1")
	must.NoError(t, err)
	if len(got) != 1 || got[0][0] != 1 || got[0][1] < acked {
		t.Fatalf("after kill -9: Committed = %v, want 1..%d at least", got, acked)
	}
	if n := storetest.Count(t, dsn, "SELECT count(*) FROM readings"); n != int64(got[0][1])*killedWriterReadings {
		t.Errorf("after kill -9: %d readings for %d batches of %d", n, got[0][1], killedWriterReadings)
	}
	var check string
	storetest.Scalar(t, dsn, "PRAGMA integrity_check", &check)
	if check != "ok" {
		t.Errorf("integrity_check: %s", check)
	}
}

const killedWriterReadings = 50

// killedWriter commits batches to the SQLite file dsn names until it is
// killed, saying "committed SEQ" after each Commit returns.
func killedWriter(t *testing.T, dsn string) {
	st, err := store.Open(context.Background(), dsn)
	must.NoError(t, err)
	for seq := uint64(1); seq < 100_000; seq++ {
		if _, err := st.Commit(context.Background(), []store.Batch{storetest.DataBatch("gw-1", seq, killedWriterReadings, "a")}); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("committed %d\n", seq)
	}
}
