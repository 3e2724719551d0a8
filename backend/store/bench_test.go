package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/backend/store/pgtest"
	"github.com/edgegw/edgegw/backend/store/storetest"
	"github.com/edgegw/edgegw/internal/proctest"
)

// benchReadings is the readings per batch of the commit benchmarks.
const benchReadings = 100

// BenchmarkCommitSQLite commits batches of 100 readings from 50 gateways,
// one batch or 20 per Commit, and reports readings/s and readings per
// processor second of this process.
func BenchmarkCommitSQLite(b *testing.B) {
	benchCommit(b, func(b *testing.B) string { return sqliteDSN(b) }, nil)
}

// BenchmarkIntegrationCommitPostgres is BenchmarkCommitSQLite on a
// throwaway PostgreSQL cluster; readings per processor second count the
// server's processor time too.
func BenchmarkIntegrationCommitPostgres(b *testing.B) {
	c := pgtest.Start(b)
	benchCommit(b, func(b *testing.B) string { return c.NewDatabase(b) }, c.CPUTime)
}

func benchCommit(b *testing.B, newDSN func(*testing.B) string, serverCPU func() (time.Duration, error)) {
	for _, group := range []int{1, 20} {
		b.Run(fmt.Sprintf("batches=%d", group), func(b *testing.B) {
			ctx := context.Background()
			dsn := newDSN(b)
			st := storetest.Open(b, dsn)
			tmpl := storetest.DataBatch("gw", 1, benchReadings, "")
			batches := make([]store.Batch, group)
			seq := uint64(0)
			cpu0, srv0 := proctest.SelfCPU(b), proctest.CPUOf(b, serverCPU)
			b.ResetTimer()
			for range b.N {
				for j := range batches {
					seq++
					bt := tmpl
					bt.Gateway = fmt.Sprintf("gw-%02d", seq%50)
					bt.Seq = seq
					bt.HeaderHash = sha256.Sum256(binary.BigEndian.AppendUint64(nil, seq))
					batches[j] = bt
				}
				if _, err := st.Commit(ctx, batches); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			readings := float64(b.N * group * benchReadings)
			cpu := proctest.SelfCPU(b) - cpu0 + proctest.CPUOf(b, serverCPU) - srv0
			b.ReportMetric(readings/b.Elapsed().Seconds(), "readings/s")
			b.ReportMetric(readings/cpu.Seconds(), "readings/cpu-s")
		})
	}
}
