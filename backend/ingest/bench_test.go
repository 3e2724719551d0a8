package ingest_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/proctest"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/backend/store/pgtest"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/receipt"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// The shape of the batches the benchmarks send: as a gateway with the
// default batch.max_readings (100) seals them, one chunk per poll of a
// meter's channels.
const (
	benchPolls   = 10 // chunks per batch
	benchPerPoll = 10 // readings per chunk
	benchBatch   = benchPolls * benchPerPoll
)

// benchChannels are the channels of one poll of the simulated meter.
var benchChannels = [benchPerPoll]struct {
	name string
	unit reading.Unit
}{{"v1", reading.Volt}, {"v2", reading.Volt}, {"v3", reading.Volt}, {"i1", reading.Ampere}, {"i2", reading.Ampere},
	{"i3", reading.Ampere}, {"p", reading.Watt}, {"f", reading.Hertz}, {"e_imp", reading.KWh}, {"e_exp", reading.KWh}}

// benchWait bounds every wait of the benchmarks: for receipts, for PUBACKs.
const benchWait = 5 * time.Minute

// BenchmarkIntegrationIngest measures `edgegw ingest run`, the real binary,
// end to end: 20 simulated gateways publish 1,000,000 readings (10,000
// signed, sealed batches of 100 readings in 10 chunks) to a local Mosquitto
// over mutual TLS, as fast as a window of 100 unacknowledged publishes each
// allows; the ingest verifies, opens and commits them and publishes signed
// receipts, which the gateways verify. The run ends at the last receipt
// that completes the coverage of every batch. It reports readings/s (wall
// time) and readings per CPU second of the ingest process (utime + stime of
// /proc/PID/stat, which for SQLite includes the database engine); for
// PostgreSQL also per CPU second of the database server. The database then
// must hold every reading.
func BenchmarkIntegrationIngest(b *testing.B) {
	if testing.Short() {
		b.Skip("integration benchmark")
	}
	const gateways, perGateway = 20, 500
	bin := buildEdgegw(b)
	b.Run("db=sqlite", func(b *testing.B) {
		benchIngest(b, bin, gateways, perGateway, func(b *testing.B) (string, func() (time.Duration, error)) {
			return "sqlite:" + filepath.Join(b.TempDir(), "ingest.db"), nil
		})
	})
	b.Run("db=postgres", func(b *testing.B) {
		benchIngest(b, bin, gateways, perGateway, func(b *testing.B) (string, func() (time.Duration, error)) {
			pg := pgtest.Start(b)
			return pg.DSN, pg.CPUTime
		})
	})
}

func benchIngest(b *testing.B, bin string, gateways, perGateway int, newDB func(*testing.B) (dsn string, dbCPU func() (time.Duration, error))) {
	for range b.N {
		b.StopTimer()
		dsn, dbCPU := newDB(b)
		bed := newIngestBed(b, dsn, gateways)
		cmd := bed.startIngest(b, bin)
		bed.connect(b)
		bed.probe(b)
		// Gateway 0 sent its seq 1 as the probe: every gateway sends
		// perGateway batches after it.
		envs := make([][]sealed, gateways)
		for g := range envs {
			envs[g] = make([]sealed, perGateway)
		}
		at := time.Now().Truncate(time.Second)
		must.NoError(b, parallel(gateways*perGateway, func(i int) (err error) {
			g, k := i/perGateway, i%perGateway
			envs[g][k], err = bed.gws[g].seal(bed.rcpt, bed.gws[g].first+uint64(k), at.Add(time.Duration(k)*benchPolls*time.Second))
			return err
		}))
		total := gateways * perGateway * benchBatch

		cpu0, db0 := proctest.CPU(b, cmd.Process.Pid), proctest.CPUOf(b, dbCPU)
		start := time.Now()
		b.StartTimer()
		var wg sync.WaitGroup
		for g, gw := range bed.gws {
			wg.Go(func() { gw.publishAll(b, envs[g], 100) })
		}
		wg.Wait()
		end := bed.receipted(b)
		b.StopTimer()
		cpu, db := proctest.CPU(b, cmd.Process.Pid)-cpu0, proctest.CPUOf(b, dbCPU)-db0
		elapsed := end.Sub(start)

		st := bed.stats(b)
		if want := uint64(total + benchBatch); st.Readings != want || len(st.Rejects) > 0 {
			b.Fatalf("database holds %d readings, want %d; rejects %v", st.Readings, want, st.Rejects)
		}
		bed.stopIngest(b, cmd)
		b.ReportMetric(float64(total)/elapsed.Seconds(), "readings/s")
		b.ReportMetric(float64(total)/cpu.Seconds(), "readings/ingest-cpu-s")
		if dbCPU != nil {
			b.ReportMetric(float64(total)/db.Seconds(), "readings/db-cpu-s")
		}
	}
}

// BenchmarkIntegrationReceiptLatency measures the time from a gateway's
// publish to the receipt covering that batch verified at the gateway, with
// 1,000 simulated gateways, each with its own client certificate and TLS
// connection to a local Mosquitto, each publishing a batch of 100 readings
// every 10 s (100 batches/s in all, spread evenly), into `edgegw ingest run`
// (the real binary, default receipt_interval 200ms) on PostgreSQL. One round
// of warm-up is not measured; the next three rounds are. It reports the
// median, 99th percentile and maximum latency, the rate of readings the
// measured rounds achieved (10,000/s unless the machine lags) and the
// ingest's CPU use over them.
func BenchmarkIntegrationReceiptLatency(b *testing.B) {
	if testing.Short() {
		b.Skip("integration benchmark")
	}
	const (
		gateways = 1000
		interval = 10 * time.Second
		rounds   = 3
	)
	bin := buildEdgegw(b)
	for range b.N {
		b.StopTimer()
		bed := newIngestBed(b, pgtest.Start(b).DSN, gateways)
		cmd := bed.startIngest(b, bin)
		bed.connect(b)
		bed.probe(b)
		envs := make([]sealed, gateways*(rounds+1))
		at := time.Now().Truncate(time.Second)
		must.NoError(b, parallel(len(envs), func(i int) (err error) {
			r, g := i/gateways, i%gateways
			gw := bed.gws[g]
			envs[i], err = gw.seal(bed.rcpt, gw.first+uint64(r), at.Add(time.Duration(r)*interval))
			return err
		}))

		b.StartTimer()
		tick := time.NewTicker(interval / gateways) // the schedule: one gateway's batch per tick
		var cpu0 time.Duration
		var start time.Time
		for i, env := range envs {
			r, g := i/gateways, i%gateways
			<-tick.C
			if r == 1 && g == 0 {
				cpu0, start = proctest.CPU(b, cmd.Process.Pid), time.Now()
			}
			bed.gws[g].publish(env, r > 0)
		}
		// The rate achieved: a loaded machine may miss ticks.
		rate := float64(gateways*rounds*benchBatch) / time.Since(start).Seconds()
		tick.Stop()
		bed.receipted(b)
		cpu := proctest.CPU(b, cmd.Process.Pid) - cpu0
		elapsed := time.Since(start)
		b.StopTimer()

		var lat []time.Duration
		for _, gw := range bed.gws {
			gw.waitPublished(b)
			lat = append(lat, gw.latencies()...)
		}
		if want := gateways * rounds; len(lat) != want {
			b.Fatalf("%d latencies measured, want %d", len(lat), want)
		}
		slices.Sort(lat)
		// The nearest-rank percentile p of the sorted latencies, in ms.
		pct := func(p float64) float64 {
			return float64(lat[int(math.Ceil(p*float64(len(lat))))-1].Microseconds()) / 1e3
		}
		b.ReportMetric(pct(0.5), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(pct(1), "max-ms")
		b.ReportMetric(gateways, "gateways")
		b.ReportMetric(rate, "readings/s")
		b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "ingest-CPU-%")
		bed.stopIngest(b, cmd)
	}
}

// ingestBed is a Mosquitto, a migrated database, the ingest's configuration
// and keys, and simulated gateways, each with its own identity and client
// certificate, all pinned by the ingest.
type ingestBed struct {
	br      *mqtttest.Broker
	dir     string
	dsn     string
	cfgPath string
	logPath string
	rcpt    *keys.RecipientPublic
	pinned  []keys.PublicIdentity // the ingest's identity, as the gateways pin it
	gws     []*simGateway
}

func newIngestBed(b *testing.B, dsn string, gateways int) *ingestBed {
	b.Helper()
	bed := &ingestBed{br: mqtttest.Start(b, mqtttest.Options{Prefix: "city"}), dir: b.TempDir(), dsn: dsn}
	idDir, rcptDir := filepath.Join(bed.dir, "identity"), filepath.Join(bed.dir, "recipient")
	must.NoError(b, keys.InitIdentity(idDir, "ingest-1", false))
	must.NoError(b, keys.GenerateRecipient(rcptDir, keys.SuiteX25519, false))
	id, err := keys.LoadIdentity(idDir)
	must.NoError(b, err)
	bed.pinned = []keys.PublicIdentity{id.Public()}
	bed.rcpt, err = keys.LoadRecipientPublic(filepath.Join(rcptDir, keys.RecipientPubFile))
	must.NoError(b, err)

	var trust strings.Builder
	for i := range gateways {
		_, priv, err := ed25519.GenerateKey(nil)
		must.NoError(b, err)
		gw := &simGateway{id: &keys.Identity{ID: fmt.Sprintf("gw-%04d", i), Key: priv}, pinned: bed.pinned, first: 1, sent: map[uint64]sentBatch{}}
		gw.topic = "city/" + gw.id.ID + "/data/telemetry"
		trust.WriteString(gw.id.Public().String() + "\n")
		bed.gws = append(bed.gws, gw)
	}
	trustPath := filepath.Join(bed.dir, "gateways.pub")
	must.NoError(b, os.WriteFile(trustPath, []byte(trust.String()), 0o644))
	if _, _, err := store.Migrate(context.Background(), dsn); err != nil {
		b.Fatal(err)
	}
	cert, key := bed.br.Client(b, bed.br.Ingest)
	bed.cfgPath = filepath.Join(bed.dir, "ingest.yaml")
	must.NoError(b, os.WriteFile(bed.cfgPath, []byte(fmt.Sprintf(`broker: %s
ca: %s
cert: %s
key: %s
client_id: ingest-1
identity: %s
trust: [%s]
recipient_keys: [%s]
database: %q
`, bed.br.URL, bed.br.CAFile, cert, key, idDir, trustPath, filepath.Join(rcptDir, keys.RecipientKeyFile), dsn)), 0o600))
	bed.logPath = filepath.Join(bed.dir, "ingest.log")
	return bed
}

// startIngest starts `edgegw ingest run` with its log in the bed's dir,
// printed if the benchmark fails. It is killed when the benchmark ends
// unless stopIngest stopped it.
func (bed *ingestBed) startIngest(b *testing.B, bin string) *exec.Cmd {
	b.Helper()
	cmd := exec.Command(bin, "ingest", "run", "--config", bed.cfgPath)
	proctest.Start(b, cmd, proctest.ChildLog(b, bed.logPath, "ingest log", 0))
	return cmd
}

// stopIngest stops the ingest with SIGTERM and requires a clean exit.
func (bed *ingestBed) stopIngest(b *testing.B, cmd *exec.Cmd) {
	b.Helper()
	must.NoError(b, cmd.Process.Signal(os.Interrupt))
	if err := cmd.Wait(); err != nil {
		b.Fatalf("edgegw ingest run: %v", err)
	}
}

// connect connects every gateway, 32 TLS handshakes at a time, and
// subscribes each to its receipt topic.
func (bed *ingestBed) connect(b *testing.B) {
	b.Helper()
	certs := make([][2]string, len(bed.gws))
	for i, gw := range bed.gws {
		certs[i][0], certs[i][1] = bed.br.Client(b, gw.id.ID)
	}
	sem := make(chan struct{}, 32)
	errs := make([]error, len(bed.gws))
	var wg sync.WaitGroup
	for i, gw := range bed.gws {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = gw.dial(bed.br, certs[i][0], certs[i][1])
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			b.Fatalf("gateway %s: %v", bed.gws[i].id.ID, err)
		}
	}
	b.Cleanup(func() {
		for _, gw := range bed.gws {
			gw.c.Disconnect(0)
		}
	})
}

// probe publishes gateway 0's first batch, again every 200 ms, until a
// receipt covers it: then the ingest is subscribed and the database ready.
// The duplicates are answered and stored once.
func (bed *ingestBed) probe(b *testing.B) {
	b.Helper()
	gw := bed.gws[0]
	env, err := gw.seal(bed.rcpt, 1, time.Now())
	must.NoError(b, err)
	gw.first = 2
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		gw.publish(env, false)
		gw.waitPublished(b)
		<-tick.C
		if gw.unreceipted() == 0 {
			return
		}
		if time.Now().After(deadline) {
			gw.mu.Lock()
			defer gw.mu.Unlock()
			b.Fatalf("no receipt for the probe batch within a minute (%d failed verification): the ingest did not start", gw.bad)
		}
	}
}

// receipted waits until a receipt covered every batch published, and
// returns when the last of those receipts was verified.
func (bed *ingestBed) receipted(b *testing.B) time.Time {
	b.Helper()
	deadline := time.Now().Add(benchWait)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		left, bad := 0, 0
		var last time.Time
		for _, gw := range bed.gws {
			gw.mu.Lock()
			left += len(gw.sent)
			bad += gw.bad
			if gw.last.After(last) {
				last = gw.last
			}
			gw.mu.Unlock()
		}
		if bad > 0 {
			b.Fatalf("%d receipts failed verification", bad)
		}
		if left == 0 {
			return last
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d batches without a receipt after %v", left, benchWait)
		}
		<-tick.C
	}
}

// stats reads the database's counters.
func (bed *ingestBed) stats(b *testing.B) store.Stats {
	b.Helper()
	db, err := store.Open(context.Background(), bed.dsn)
	must.NoError(b, err)
	defer db.Close()
	st, err := db.Stats(context.Background())
	must.NoError(b, err)
	return st
}

// simGateway is a simulated gateway: its identity, one MQTT connection
// with its own client certificate, and the batches it published that no
// verified receipt covers yet.
type simGateway struct {
	id     *keys.Identity
	topic  string
	pinned []keys.PublicIdentity
	first  uint64 // the first sequence number the benchmark sends
	c      paho.Client

	mu   sync.Mutex
	sent map[uint64]sentBatch // published, not yet receipted
	toks []paho.Token         // publishes not yet checked
	lat  []time.Duration      // publish to receipt, of measured batches
	last time.Time            // when the last receipt that covered something was verified
	bad  int                  // receipts that failed verification
	lost error                // why the connection was lost
}

type sentBatch struct {
	at      time.Time
	measure bool
}

// dial connects with a small paho client (no reconnects, no ordering
// goroutine per connection's messages) and subscribes to the receipt topic.
func (g *simGateway) dial(br *mqtttest.Broker, cert, key string) error {
	dial, host, err := mqtt.BrokerURL(br.URL)
	if err != nil {
		return err
	}
	tc, err := mqtt.TLSConfig(br.URL, host, br.CAFile, cert, key)
	if err != nil {
		return err
	}
	g.c = paho.NewClient(paho.NewClientOptions().AddBroker(dial).SetClientID(g.id.ID).SetTLSConfig(tc).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetKeepAlive(5 * time.Minute).SetOrderMatters(false).SetConnectTimeout(time.Minute).SetWriteTimeout(time.Minute).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			g.mu.Lock()
			g.lost = err
			g.mu.Unlock()
		}))
	if tok := g.c.Connect(); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		return fmt.Errorf("connect: %v", tok.Error())
	}
	topic := "city/" + g.id.ID + "/receipt"
	tok := g.c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { g.onReceipt(m.Payload()) })
	if !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		return fmt.Errorf("subscribe to %s: %v", topic, tok.Error())
	}
	if st, ok := tok.(*paho.SubscribeToken); ok && st.Result()[topic] == 0x80 {
		return fmt.Errorf("subscribe to %s: refused", topic)
	}
	return nil
}

// onReceipt verifies a receipt and notes the latency of each batch it
// covers.
func (g *simGateway) onReceipt(payload []byte) {
	now := time.Now()
	r, err := receipt.Verify(payload, g.id.ID, g.pinned)
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		g.bad++
		return
	}
	for seq, s := range g.sent {
		if r.Covers(seq) {
			if s.measure {
				g.lat = append(g.lat, now.Sub(s.at))
			}
			delete(g.sent, seq)
			g.last = now
		}
	}
}

// sealed is one envelope, ready to publish.
type sealed struct {
	seq  uint64
	wire []byte
}

// seal returns a signed batch of benchBatch readings with sequence number
// seq, sealed to rcpt in benchPolls chunks, the first poll at at.
func (g *simGateway) seal(rcpt *keys.RecipientPublic, seq uint64, at time.Time) (sealed, error) {
	bt, err := envelope.NewBatch(rcpt, g.id.ID, "telemetry", 1, at)
	if err != nil {
		return sealed{}, err
	}
	h, err := bt.Header(seq)
	if err != nil {
		return sealed{}, err
	}
	chunks := make([][]byte, benchPolls)
	rs := make([]reading.Reading, benchPerPoll)
	for p := range chunks {
		for i, ch := range benchChannels {
			rs[i] = reading.Reading{Device: "meter-1", Channel: ch.name, Unit: ch.unit, Value: float64(seq) + float64(p*benchPerPoll+i)/8,
				Time: at.Add(time.Duration(p) * time.Second)}
		}
		if chunks[p], err = bt.Seal(rs); err != nil {
			return sealed{}, err
		}
	}
	tr, err := envelope.Sign(g.id, h, chunks)
	if err != nil {
		return sealed{}, err
	}
	return sealed{seq: seq, wire: envelope.Marshal(h, chunks, tr)}, nil
}

// publish publishes env (QoS 1) without waiting for the PUBACK, noting
// the time first; measure says whether its receipt latency counts.
func (g *simGateway) publish(env sealed, measure bool) {
	g.mu.Lock()
	g.sent[env.seq] = sentBatch{at: time.Now(), measure: measure}
	g.mu.Unlock()
	tok := g.c.Publish(g.topic, 1, false, env.wire)
	g.mu.Lock()
	g.toks = append(g.toks, tok)
	g.mu.Unlock()
}

// publishAll publishes envs in order with at most window unacknowledged.
func (g *simGateway) publishAll(b testing.TB, envs []sealed, window int) {
	for _, env := range envs {
		g.mu.Lock()
		n := len(g.toks)
		g.mu.Unlock()
		if n >= window {
			g.waitPublished(b)
		}
		g.publish(env, true)
	}
	g.waitPublished(b)
}

// waitPublished waits for the PUBACKs of every publish so far.
func (g *simGateway) waitPublished(b testing.TB) {
	g.mu.Lock()
	toks := g.toks
	g.toks = nil
	g.mu.Unlock()
	for _, tok := range toks {
		if !tok.WaitTimeout(benchWait) {
			b.Errorf("gateway %s: no PUBACK within %v", g.id.ID, benchWait)
			return
		}
		if err := tok.Error(); err != nil {
			b.Errorf("gateway %s: publish: %v", g.id.ID, err)
			return
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.lost != nil {
		b.Errorf("gateway %s: connection lost: %v", g.id.ID, g.lost)
	}
}

func (g *simGateway) unreceipted() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sent)
}

func (g *simGateway) latencies() []time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.lat)
}

// parallel calls fn(i) for i in [0, n) on every processor and returns
// the first error, after which it calls fn no more.
func parallel(n int, fn func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, runtime.GOMAXPROCS(0))
	for w := range errs {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if errs[w] = fn(i); errs[w] != nil {
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// buildEdgegw builds a static edgegw binary, as `make build` does.
func buildEdgegw(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "edgegw")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "../../cmd/edgegw")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
