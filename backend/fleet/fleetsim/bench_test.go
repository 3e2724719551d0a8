package fleetsim_test

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/fleet/fleetsim"
	"github.com/edgegw/edgegw/backend/fleetweb"
	"github.com/edgegw/edgegw/backend/ingest"
	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/backend/store/storetest"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/proctest"
)

var (
	benchGateways = flag.Int("fleetsim.bench.gateways", 2000, "gateways of BenchmarkIntegrationFleetSim")
	statusFleet   = flag.Int("fleetsim.status.gateways", 10000, "gateways in the database of BenchmarkFleetStatus")
)

// BenchmarkIntegrationFleetSim runs 2,000 simulated gateways
// (-fleetsim.bench.gateways), one MQTT connection each, into the real
// ingest on SQLite, for 6 simulated minutes; 5 % of them start a fault
// between the 2nd and the 4th minute. It reports how long, in simulated
// time, each kind of fault took to show in the fleet view (the worst
// gateway of each kind): offline-s from the connection's close (the broker
// publishes the last will at once; a box that dies silently adds the
// broker's 1.5 keep-alives), stale-intervals from the device's last good
// reading, in its polling intervals, silent-delays from the last committed
// batch, in batch delays; the bytes of the health documents per gateway per
// simulated minute; the real time of a whole-fleet status; and the wall
// time per simulated second.
func BenchmarkIntegrationFleetSim(b *testing.B) {
	if testing.Short() {
		b.Skip("integration benchmark")
	}
	for range b.N {
		start := time.Now()
		s := fleetsim.Start(b, fleetsim.Options{Gateways: *benchGateways, Faulty: *benchGateways / 20, Seed: 1, FaultSpread: 2 * time.Minute})
		connect := time.Since(start)
		ctx := context.Background()
		const simulated = 6 * time.Minute
		run := time.Now()
		must.NoError(b, s.Run(ctx, simulated))
		wall := time.Since(run)
		worst := map[fleetsim.Fault]time.Duration{}
		for _, p := range s.Plans {
			if p.Shown.IsZero() {
				b.Errorf("%s (%s from %s): never shown %s", p.Gateway, p.Fault, p.At.Format(time.TimeOnly), p.Fault.Want())
				continue
			}
			worst[p.Fault] = max(worst[p.Fault], p.Delay())
		}
		t0 := time.Now()
		sum, err := s.Fleet.Status(ctx)
		must.NoError(b, err)
		status := time.Since(t0)
		if sum.Counts[fleet.OK] != s.Gateways()-len(s.Plans) {
			b.Errorf("%d OK, want %d: %v", sum.Counts[fleet.OK], s.Gateways()-len(s.Plans), sum.Counts)
		}
		hb, hn := s.HealthBytes()
		th := fleet.Thresholds{}
		th.Defaults()
		b.ReportMetric(float64(s.Gateways()), "gateways")
		b.ReportMetric(connect.Seconds(), "connect-s")
		b.ReportMetric(wall.Seconds()*1000/simulated.Seconds(), "wall-ms/sim-s")
		b.ReportMetric(worst[fleetsim.Offline].Seconds(), "offline-s")
		b.ReportMetric(worst[fleetsim.Stale].Seconds()/10, "stale-intervals")
		b.ReportMetric(worst[fleetsim.WrongKey].Seconds()/th.BatchDelay.Seconds(), "silent-delays")
		b.ReportMetric(worst[fleetsim.Gap].Seconds(), "gap-s")
		b.ReportMetric(worst[fleetsim.Stuck].Seconds(), "stuck-s")
		b.ReportMetric(worst[fleetsim.RolledBack].Seconds(), "config-s")
		b.ReportMetric(float64(hb)/float64(hn), "health-B/doc")
		b.ReportMetric(status.Seconds()*1000, "status-ms")
	}
}

// BenchmarkFleetStatus measures `edgegw fleet status` (ingest.FleetStatus:
// open the database, compute every state, print the table) and the
// overview page (GET /, rendered and gzip-compressed, from the states the
// ingest recorded last, as it serves it) with 10,000 gateways
// (-fleetsim.status.gateways) in an SQLite database, each with a committed
// batch, its newest readings and 5 minutes of health documents, some of
// them in each state. It reports wall time and the processor time of this
// process (both processors count), since the machine may be shared.
func BenchmarkFleetStatus(b *testing.B) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	dsn := "sqlite:" + filepath.Join(b.TempDir(), "ingest.db")
	populate(b, dsn, *statusFleet, now)
	var th fleet.Thresholds
	th.Defaults()
	cfg := ingest.Config{Database: dsn, Fleet: th}
	st, err := store.Open(ctx, dsn)
	must.NoError(b, err)
	defer st.Close()
	fl := &fleet.Fleet{Store: st, Thresholds: th, Now: func() time.Time { return now }}
	h := fleetweb.Handler(fleetweb.Deps{Fleet: fl})
	// The ingest records the states every fleet interval; the page shows
	// that evaluation. Its cost is the CLI's, measured apart.
	if _, _, err := fl.Record(ctx); err != nil {
		b.Fatal(err)
	}
	var cli, page, cliCPU, pageCPU time.Duration
	var pageBytes int
	b.ResetTimer()
	for range b.N {
		t0, c0 := time.Now(), proctest.SelfCPU(b)
		must.NoError(b, ingest.FleetStatus(ctx, cfg, fleet.Filter{}, false, io.Discard))
		t1, c1 := time.Now(), proctest.SelfCPU(b)
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Encoding", "gzip")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		t2, c2 := time.Now(), proctest.SelfCPU(b)
		if w.Code != 200 {
			b.Fatalf("GET / = %d", w.Code)
		}
		cli, cliCPU = cli+t1.Sub(t0), cliCPU+c1-c0
		page, pageCPU = page+t2.Sub(t1), pageCPU+c2-c1
		pageBytes = w.Body.Len()
	}
	b.ReportMetric(float64(*statusFleet), "gateways")
	b.ReportMetric(cli.Seconds()*1000/float64(b.N), "cli-ms")
	b.ReportMetric(page.Seconds()*1000/float64(b.N), "page-ms")
	b.ReportMetric(cliCPU.Seconds()*1000/float64(b.N), "cli-cpu-ms")
	b.ReportMetric(pageCPU.Seconds()*1000/float64(b.N), "page-cpu-ms")
	b.ReportMetric(float64(pageBytes)/1024, "page-gzip-KiB")
}

// populate stores n gateways as the ingest would have: one committed batch
// of 2 readings each, received within the last 10 s, and 5 health
// documents a minute apart; one in 50 has a stuck channel, one in 100 has
// sent nothing for 10 minutes, one in 100 has a sequence gap.
func populate(b *testing.B, dsn string, n int, now time.Time) {
	b.Helper()
	ctx := context.Background()
	st := storetest.Open(b, dsn)
	const chunk = 500
	for from := 0; from < n; from += chunk {
		var batches []store.Batch
		var docs []store.Doc
		for i := from; i < min(n, from+chunk); i++ {
			gw := fmt.Sprintf("zone%02d-%05d", i%40, i)
			at := now.Add(-time.Duration(i%10) * time.Second)
			if i%100 == 1 {
				at = now.Add(-10 * time.Minute)
			}
			pm, co2 := 5+float64(i%7), 420+float64(i%50)
			var flags uint16
			if i%50 == 3 {
				flags = uint16(reading.Stuck)
			}
			rs := []store.Reading{{Device: "aq-1", Channel: "pm25", Unit: "ug/m3", Time: at, Value: &pm, Flags: flags},
				{Device: "aq-1", Channel: "co2", Unit: "ppm", Time: at, Value: &co2}}
			seq := uint64(100)
			if i%100 == 5 {
				seq = 103 // 100..102 missing
			}
			for _, s := range []uint64{99, seq} {
				batches = append(batches, store.Batch{Gateway: gw, Seq: s, Class: "telemetry", KeyID: []byte{1}, ConfigVersion: 3, Created: at.Add(-10 * time.Second),
					Received: at, HeaderHash: sha256.Sum256(fmt.Appendf(nil, "%s/%d", gw, s)), Size: 200, Readings: rs})
			}
			for m := range 5 {
				hat := at.Add(-time.Duration(m) * time.Minute)
				docs = append(docs, store.Doc{Gateway: gw, Kind: store.DocHealth, Received: hat,
					Body: fmt.Appendf(nil, `{"gateway":%q,"version":"1.4.0","config_version":3,"clock_synced":true,"devices":{"aq-1":{"polls":%d,"last_ok":%q}}}`,
						gw, 10000-6*m, hat.Format(time.RFC3339))})
			}
		}
		if _, err := st.Commit(ctx, batches); err != nil {
			b.Fatal(err)
		}
		must.NoError(b, st.RecordDocs(ctx, docs, 60))
	}
}
