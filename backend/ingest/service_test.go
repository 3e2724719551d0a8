package ingest_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/backend/backendtest"
	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/ingest"
	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/backend/store/pgtest"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/receipt"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// world is a broker, a gateway's keys, the ingest's identity and a database.
type world struct {
	br     *mqtttest.Broker
	gw     *backendtest.Gateway
	signer *keys.Identity
	dsn    string
	cfg    ingest.Config
}

func newWorld(t *testing.T, dsn string) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped with -short")
	}
	br := mqtttest.Start(t, mqtttest.Options{Prefix: "city"})
	w := &world{br: br, gw: backendtest.NewGateway(t, "gw-001"), dsn: dsn}
	dir := t.TempDir()
	must.NoError(t, keys.InitIdentity(dir, "ingest-test", false))
	var err error
	w.signer, err = keys.LoadIdentity(dir)
	must.NoError(t, err)
	if _, _, err := store.Migrate(context.Background(), dsn); err != nil {
		t.Fatal(err)
	}
	cert, key := br.Client(t, br.Ingest)
	w.cfg, err = ingest.ParseConfig([]byte(`
broker: ` + br.URL + `
ca: ` + br.CAFile + `
cert: ` + cert + `
key: ` + key + `
client_id: ingest-test
identity: ` + dir + `
trust: [` + filepath.Join(w.gw.Dir, "identity.pub") + `]
recipient_keys: [` + filepath.Join(w.gw.Dir, "recipient.key") + `]
database: ` + dsn + `
receipt_interval: 50ms
`))
	must.NoError(t, err)
	return w
}

// start runs an ingest service until the test ends or stop is called.
func (w *world) start(t *testing.T) (svc *ingest.Service, stop func()) {
	t.Helper()
	db, err := store.Open(context.Background(), w.dsn)
	must.NoError(t, err)
	svc, err = ingest.New(w.cfg, ingest.Deps{Store: db, Signer: w.signer, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
		Opener: backend.Opener{Trust: envelope.NewTrust(w.gw.ID.Public()), Keys: []*keys.RecipientPrivate{w.gw.Key}}})
	must.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case <-svc.Ready():
	case err := <-done:
		t.Fatalf("ingest ended before subscribing: %v", err)
	case <-time.After(mqtttest.WaitTimeout):
		t.Fatal("ingest not subscribed")
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ingest: %v", err)
			}
			must.NoError(t, db.Close())
		})
	}
	t.Cleanup(stop)
	return svc, stop
}

// gateway connects as gw-001: it publishes envelopes and collects the
// receipts the ingest sends it.
type gateway struct {
	c      *mqtt.Client
	pinned []keys.PublicIdentity
	mu     sync.Mutex
	last   receipt.Receipt
	bad    int
}

func (w *world) gateway(t *testing.T) *gateway {
	t.Helper()
	g := &gateway{pinned: []keys.PublicIdentity{w.signer.Public()}}
	cert, key := w.br.Client(t, "gw-001")
	ready := make(chan struct{})
	var once sync.Once
	c, err := mqtt.Dial(context.Background(), mqtt.SubscribeConfig{
		Broker: w.br.URL, CA: w.br.CAFile, Cert: cert, Key: key, ClientID: "gw-001", CleanSession: true,
		Topics: []string{"city/gw-001/receipt"}, OnSubscribe: func() { once.Do(func() { close(ready) }) },
	}, func(_ string, payload []byte) {
		r, err := receipt.Verify(payload, "gw-001", g.pinned)
		g.mu.Lock()
		defer g.mu.Unlock()
		if err != nil {
			g.bad++
			return
		}
		g.last = r
	})
	must.NoError(t, err)
	t.Cleanup(c.Close)
	select {
	case <-ready:
	case <-time.After(mqtttest.WaitTimeout):
		t.Fatal("gateway not subscribed")
	}
	g.c = c
	return g
}

func (g *gateway) publish(t *testing.T, topic string, wire []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mqtttest.WaitTimeout)
	defer cancel()
	must.NoError(t, g.c.Publish(ctx, topic, wire, false))
}

func (g *gateway) receipt() receipt.Receipt {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

const data = "city/gw-001/data/telemetry"

func TestIntegrationIngestSQLite(t *testing.T) {
	ingestScenario(t, newWorld(t, "sqlite:"+filepath.Join(t.TempDir(), "ingest.db")))
}

func TestIntegrationIngestPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test skipped with -short")
	}
	ingestScenario(t, newWorld(t, pgtest.Start(t).DSN))
}

// ingestScenario: receipts cover exactly what is committed, holes included;
// gap records cover their ranges; garbage and reused numbers are refused and
// recorded; duplicates change nothing and are answered; a restarted service
// keeps its dedupe and accounting from the database.
func ingestScenario(t *testing.T, w *world) {
	svc, stop := w.start(t)
	g := w.gateway(t)

	sent := map[uint64][]byte{}
	for _, seq := range []uint64{1, 2, 4, 5} {
		sent[seq] = w.gw.Batch(seq, 3)
		g.publish(t, data, sent[seq])
	}
	mqtttest.Eventually(t, "a receipt for 1..2 and 4..5", func() bool {
		r := g.receipt()
		return r.Through == 2 && len(r.Ranges) == 1 && r.Ranges[0] == [2]uint64{4, 5}
	})
	// Seq 3 fills the hole; a gap record (seq 6) covers 7..9; garbage is
	// rejected and recorded.
	g.publish(t, data, w.gw.Batch(3, 2))
	g.publish(t, "city/gw-001/data/gap", w.gw.Gap(6, 7, 9, 40))
	g.publish(t, data, []byte("not an envelope"))
	mqtttest.Eventually(t, "a receipt through 9", func() bool { return g.receipt().Through == 9 })

	// A batch received again is a duplicate: nothing changes, and it is
	// answered with a receipt.
	g.publish(t, data, sent[2])
	mqtttest.Eventually(t, "the duplicate counted", func() bool { return svc.Stats().Duplicates == 1 })
	// The same number with other content (a new batch signed under seq 2)
	// is refused as a reused sequence number and changes nothing.
	g.publish(t, data, w.gw.Batch(2, 1))
	mqtttest.Eventually(t, "the reused number counted", func() bool { return svc.Stats().Rejected["reused-seq"] == 1 })
	st := svc.Stats()
	if st.Committed != 6 || st.Readings != 14 || st.Rejected["malformed"] != 1 {
		t.Errorf("stats %+v", st)
	}
	stop()

	// Dedupe and accounting live in the database: a new service on the
	// same database knows seq 1 and sees no gap.
	svc2, _ := w.start(t)
	g.publish(t, data, sent[1])
	g.publish(t, data, w.gw.Batch(11, 1))
	mqtttest.Eventually(t, "the restarted ingest's duplicate", func() bool { return svc2.Stats().Duplicates == 1 && svc2.Stats().Committed == 1 })
	db, err := store.Open(context.Background(), w.dsn)
	must.NoError(t, err)
	defer db.Close()
	stats, err := db.Stats(context.Background())
	must.NoError(t, err)
	if stats.Batches != 7 || stats.Readings != 15 || stats.GapRecords != 1 || stats.DroppedReadings != 40 || stats.Rejects["malformed"] != 1 {
		t.Errorf("database stats %+v", stats)
	}
	missing, err := db.Missing(context.Background(), "gw-001")
	must.NoError(t, err)
	// 7..9 are covered by the gap record; 10 was never sent.
	var notReceived []store.MissingRange
	for _, m := range missing {
		if m.Cause == "not-received" {
			notReceived = append(notReceived, m)
		}
	}
	if len(notReceived) != 1 || notReceived[0].From != 10 || notReceived[0].To != 10 {
		t.Errorf("missing %+v, want only 10 not received", missing)
	}
	if g.bad != 0 {
		t.Errorf("%d receipts failed verification", g.bad)
	}
}

// TestIntegrationIngestHealth: the ingest stores the health and
// configuration status documents a gateway publishes, its last will among
// them, and the fleet view computes its state from them.
func TestIntegrationIngestHealth(t *testing.T) {
	w := newWorld(t, "sqlite:"+filepath.Join(t.TempDir(), "ingest.db"))
	svc, _ := w.start(t)
	g := w.gateway(t)
	g.publish(t, "city/gw-001/health", []byte(`{"gateway":"gw-001","version":"1.4.0","config_version":2,"devices":{}}`))
	g.publish(t, "city/gw-001/config/status", []byte(`{"gateway":"gw-001","version":2,"state":"rolled-back","reason":"probation: broker unreachable"}`))
	ctx := context.Background()
	mqtttest.Eventually(t, "the health and config status stored", func() bool {
		h, err1 := svc.Fleet.Store.Docs(ctx, store.DocHealth, "gw-001")
		c, err2 := svc.Fleet.Store.Docs(ctx, store.DocConfigStatus, "gw-001")
		return err1 == nil && err2 == nil && len(h) == 1 && len(c) == 1
	})
	sum, err := svc.Fleet.Status(ctx)
	must.NoError(t, err)
	if len(sum.Boxes) != 1 || sum.Boxes[0].State != fleet.Silent || !strings.Contains(sum.Boxes[0].Reason, "rolled-back") {
		t.Errorf("fleet status = %+v, want gw-001 SILENT (health, no data), its rolled-back configuration among the reasons", sum.Boxes)
	}
	g.publish(t, "city/gw-001/health", []byte(`{"state":"offline"}`))
	mqtttest.Eventually(t, "the last will makes it OFFLINE", func() bool {
		sum, err := svc.Fleet.Status(ctx)
		return err == nil && len(sum.Boxes) == 1 && sum.Boxes[0].State == fleet.Offline
	})
	hist, err := svc.Fleet.Store.DocHistory(ctx, "gw-001", store.DocHealth, time.Time{})
	if err != nil || len(hist) != 2 {
		t.Errorf("health history = %d documents, %v; want 2", len(hist), err)
	}
}
