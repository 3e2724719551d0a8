// Package fleetsim simulates a fleet of gateways for the fleet view's tests
// and benchmarks: thousands of gateways in one process, each with its own
// identity and client certificate, publishing real signed and sealed
// envelopes, health and configuration status documents over their own MQTT
// connection to a real Mosquitto (mqtttest), into a real `edgegw ingest`
// service (backend/ingest) on SQLite. Some gateways misbehave on a seeded
// schedule (Fault).
//
// Time is simulated: the ingest and the fleet states read a Clock that the
// simulation advances one tick at a time, after every message of the tick
// is stored. Thresholds measured in minutes are so reached in seconds, and
// how long a fault takes to show is measured in simulated time, to the tick.
// The broker's own timers (keep-alive) run in real time.
//
// It is a test harness: it takes a testing.TB, and no command links it.
package fleetsim

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/ingest"
	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/testclock"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// Fault is a way a simulated gateway misbehaves from its fault time on.
type Fault string

// The faults, and the state each must bring its gateway to.
const (
	None       Fault = ""
	Offline    Fault = "offline"     // its connection closes without DISCONNECT: the broker publishes its last will
	Stuck      Fault = "stuck"       // a device's readings are flagged stuck
	Stale      Fault = "stale"       // a device stops answering: read errors, no good reading since
	Gap        Fault = "gap"         // it skips sequence numbers without a gap record
	RolledBack Fault = "rolled-back" // its new configuration is rolled back
	WrongKey   Fault = "wrong-key"   // it signs with an identity the ingest does not pin: connected, health arrives, nothing committed
)

// Faults lists the faults in the order Start assigns them.
var Faults = []Fault{Offline, Stuck, Stale, Gap, RolledBack, WrongKey}

// Want returns the state a fault brings its gateway to.
func (f Fault) Want() fleet.State {
	switch f {
	case Offline:
		return fleet.Offline
	case Stuck, Stale:
		return fleet.Degraded
	case Gap:
		return fleet.DataGap
	case RolledBack:
		return fleet.Config
	case WrongKey:
		return fleet.Silent
	}
	return fleet.OK
}

// Options configures a simulation. Zero fields take the defaults shown.
type Options struct {
	Gateways int   // 200
	Faulty   int   // gateways with a fault, spread evenly over Faults; Gateways/20
	Seed     int64 // of the fault schedule and the publish phases
	// Faults start at a random tick within [FaultFrom, FaultFrom+FaultSpread)
	// of simulated time; 2m and 1m.
	FaultFrom, FaultSpread time.Duration
	// Thresholds of the ingest's fleet states; their BatchDelay and
	// HealthInterval are also how often the gateways publish a batch and a
	// health document. Defaults as fleet.Thresholds.Defaults.
	Thresholds fleet.Thresholds
	// DeviceInterval is the polling interval of the gateways' one device
	// (2 channels); each batch holds the polls of one BatchDelay. 10s.
	DeviceInterval time.Duration
	// Tick is the step of simulated time; 1s.
	Tick time.Duration
	// Start is the simulated time at the start; 2026-12-01T00:00:00Z.
	Start  time.Time
	Logger *slog.Logger // the ingest's log; nothing is logged when nil
}

func (o *Options) defaults() {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if o.Gateways == 0 {
		o.Gateways = 200
	}
	if o.Faulty == 0 {
		o.Faulty = o.Gateways / 20
	}
	def(&o.FaultFrom, 2*time.Minute)
	def(&o.FaultSpread, time.Minute)
	def(&o.DeviceInterval, 10*time.Second)
	def(&o.Tick, time.Second)
	o.Thresholds.Defaults()
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Plan is one gateway's fault, and when the fleet view first showed the
// state it must bring.
type Plan struct {
	Gateway string
	Fault   Fault
	At      time.Time // simulated time the fault starts
	Shown   time.Time // simulated time the fleet view first showed Fault.Want(); zero until then
	// LastGood is, for Stale, the time of the device's last good reading;
	// for WrongKey, when the ingest received its last committed batch; for
	// Offline, when its connection closed. Zero for the others.
	LastGood time.Time
}

// Delay returns how long after the fault (after LastGood when set) the
// fleet view showed it; -1 when it did not.
func (p Plan) Delay() time.Duration {
	if p.Shown.IsZero() {
		return -1
	}
	from := p.At
	if !p.LastGood.IsZero() {
		from = p.LastGood
	}
	return p.Shown.Sub(from)
}

// Sim is a running simulation.
type Sim struct {
	Clock  *testclock.Clock
	Broker *mqtttest.Broker
	Ingest *ingest.Service
	Fleet  *fleet.Fleet // on the ingest's database, at the simulated time
	Store  store.Store  // the ingest's database
	DSN    string
	Plans  []*Plan // the faulty gateways, by gateway

	o     Options
	t     testing.TB
	rcpt  *keys.RecipientPublic
	gws   []*gateway
	ticks int

	// What the gateways published, for the wait after each tick.
	data, docs uint64
}

// Start starts the broker, the ingest on a new SQLite database and the
// gateways, connected; everything stops when the test ends.
func Start(t testing.TB, o Options) *Sim {
	t.Helper()
	o.defaults()
	s := &Sim{Clock: testclock.New(o.Start), o: o, t: t}
	s.Broker = mqtttest.Start(t, mqtttest.Options{Prefix: prefix})
	dir := t.TempDir()
	idDir, rcptDir := filepath.Join(dir, "ingest"), filepath.Join(dir, "recipient")
	must.NoError(t, keys.InitIdentity(idDir, "ingest-sim", false))
	must.NoError(t, keys.GenerateRecipient(rcptDir, keys.SuiteX25519, false))
	signer, err := keys.LoadIdentity(idDir)
	must.NoError(t, err)
	s.rcpt, err = keys.LoadRecipientPublic(filepath.Join(rcptDir, keys.RecipientPubFile))
	must.NoError(t, err)
	rk, err := keys.LoadRecipientPrivate(filepath.Join(rcptDir, keys.RecipientKeyFile))
	must.NoError(t, err)

	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed))
	pins := make([]keys.PublicIdentity, o.Gateways)
	s.gws = make([]*gateway, o.Gateways)
	for i := range s.gws {
		g := &gateway{id: &keys.Identity{ID: fmt.Sprintf("sim-%02d-%04d", i%20, i), Key: newKey(rng)}, seq: 0,
			phase: time.Duration(rng.Int64N(int64(o.Thresholds.BatchDelay/o.Tick))) * o.Tick}
		g.signer = g.id
		pins[i] = g.id.Public()
		s.gws[i] = g
	}
	// The faulty gateways, a random choice, faults in turn.
	for k, i := range rng.Perm(o.Gateways)[:o.Faulty] {
		g := s.gws[i]
		at := o.FaultFrom + time.Duration(rng.Int64N(int64(o.FaultSpread/o.Tick)))*o.Tick
		g.plan = &Plan{Gateway: g.id.ID, Fault: Faults[k%len(Faults)], At: o.Start.Add(at)}
		s.Plans = append(s.Plans, g.plan)
	}

	s.DSN = "sqlite:" + filepath.Join(dir, "ingest.db")
	ctx := context.Background()
	_, _, err = store.Migrate(ctx, s.DSN)
	must.NoError(t, err)
	s.Store, err = store.Open(ctx, s.DSN)
	must.NoError(t, err)
	cert, key := s.Broker.Client(t, s.Broker.Ingest)
	cfg, err := ingest.ParseConfig(fmt.Appendf(nil, `
broker: %s
ca: %s
cert: %s
key: %s
client_id: ingest-sim
identity: %s
trust: [%s]
recipient_keys: [%s]
database: %s
receipt_interval: 200ms
fleet: {batch_delay: %s, health_interval: %s, offline_delays: %d, stale_intervals: %d, interval: 1h}
`, s.Broker.URL, s.Broker.CAFile, cert, key, idDir, filepath.Join(idDir, keys.IdentityPubFile), filepath.Join(rcptDir, keys.RecipientKeyFile), s.DSN,
		o.Thresholds.BatchDelay, o.Thresholds.HealthInterval, o.Thresholds.OfflineDelays, o.Thresholds.StaleIntervals))
	must.NoError(t, err)
	s.Ingest, err = ingest.New(cfg, ingest.Deps{Store: s.Store, Signer: signer, Logger: o.Logger, Now: s.Clock.Now,
		Opener: backend.Opener{Trust: envelope.NewTrust(pins...), Keys: []*keys.RecipientPrivate{rk}}})
	must.NoError(t, err)
	s.Fleet = &fleet.Fleet{Store: s.Store, Thresholds: o.Thresholds, Now: s.Clock.Now, Logger: o.Logger}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Ingest.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
		s.Store.Close()
	})
	select {
	case <-s.Ingest.Ready():
	case err := <-done:
		t.Fatalf("fleetsim: ingest stopped at start: %v", err)
	case <-time.After(mqtttest.WaitTimeout):
		t.Fatal("fleetsim: ingest not subscribed")
	}
	s.connect()
	return s
}

// newKey returns an Ed25519 key from rng.
func newKey(rng *rand.Rand) ed25519.PrivateKey {
	var seed [ed25519.SeedSize]byte
	for i := range seed {
		seed[i] = byte(rng.Uint32())
	}
	return ed25519.NewKeyFromSeed(seed[:])
}

// connect issues each gateway's client certificate and connects it, a few
// TLS handshakes at a time.
func (s *Sim) connect() {
	s.t.Helper()
	dial, host, err := mqtt.BrokerURL(s.Broker.URL)
	must.NoError(s.t, err)
	errs := make([]error, len(s.gws))
	parallel(len(s.gws), 4*runtime.GOMAXPROCS(0), func(i int) {
		g := s.gws[i]
		cert, key := s.Broker.Client(s.t, g.id.ID)
		tc, err := mqtt.TLSConfig(s.Broker.URL, host, s.Broker.CAFile, cert, key)
		if err != nil {
			errs[i] = err
			return
		}
		errs[i] = g.dial(dial, tc)
	})
	for i, err := range errs {
		if err != nil {
			s.t.Fatalf("fleetsim: gateway %s: %v", s.gws[i].id.ID, err)
		}
	}
	s.t.Cleanup(func() {
		for _, g := range s.gws {
			g.c.Disconnect(0)
		}
	})
}

// Gateways returns the number of gateways.
func (s *Sim) Gateways() int { return len(s.gws) }

// Run advances the simulated time by d, a tick at a time: each tick the
// gateways due publish, the tick ends once the ingest has stored all of it,
// and the fleet view is asked for the state of every faulty gateway whose
// fault started and has not shown yet.
func (s *Sim) Run(ctx context.Context, d time.Duration) error {
	for end := s.Clock.Now().Add(d); s.Clock.Now().Before(end); {
		if err := s.tick(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sim) tick(ctx context.Context) error {
	s.Clock.Advance(s.o.Tick)
	now := s.Clock.Now()
	s.ticks++
	elapsed := now.Sub(s.o.Start)
	var mu sync.Mutex
	var errs []error
	wills := 0
	parallel(len(s.gws), runtime.GOMAXPROCS(0), func(i int) {
		g := s.gws[i]
		data, docs, will, err := g.step(s, now, elapsed)
		mu.Lock()
		defer mu.Unlock()
		s.data += uint64(data)
		s.docs += uint64(docs)
		wills += will
		if err != nil {
			errs = append(errs, fmt.Errorf("gateway %s: %w", g.id.ID, err))
		}
	})
	if len(errs) > 0 {
		return errs[0]
	}
	s.docs += uint64(wills)
	if err := s.settle(ctx); err != nil {
		return fmt.Errorf("fleetsim at %s: %w", elapsed, err)
	}
	return s.observe(ctx, now)
}

// settleTimeout bounds the wait for the ingest to store one tick.
const settleTimeout = time.Minute

// settle waits until the ingest has taken every envelope and stored every
// document published so far (wills included).
func (s *Sim) settle(ctx context.Context) error {
	deadline := time.Now().Add(settleTimeout)
	for wait := 100 * time.Microsecond; ; wait = min(2*wait, 20*time.Millisecond) {
		st := s.Ingest.Stats()
		done := st.Committed + st.Duplicates
		for _, n := range st.Rejected {
			done += n
		}
		if st.Received >= s.data && done >= st.Received && st.Docs >= s.docs {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the ingest took %d of %d envelopes (%d stored or rejected) and stored %d of %d documents within %v",
				st.Received, s.data, done, st.Docs, s.docs, settleTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// observe notes when each started fault first shows.
func (s *Sim) observe(ctx context.Context, now time.Time) error {
	for _, p := range s.Plans {
		if !p.Shown.IsZero() || now.Before(p.At) {
			continue
		}
		d, err := s.Fleet.Show(ctx, p.Gateway)
		if err != nil {
			return fmt.Errorf("fleetsim: %w", err)
		}
		if d.Box.State == p.Fault.Want() {
			p.Shown = now
		}
	}
	return nil
}

// Published returns the envelopes and documents the gateways published.
func (s *Sim) Published() (envelopes, docs uint64) { return s.data, s.docs }

// HealthBytes returns the bytes of the health documents published so far,
// and how many.
func (s *Sim) HealthBytes() (bytes, n uint64) {
	for _, g := range s.gws {
		bytes += g.healthBytes
		n += g.healthN
	}
	return bytes, n
}

// parallel calls fn(i) for i in [0, n) on workers goroutines.
func parallel(n, workers int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
