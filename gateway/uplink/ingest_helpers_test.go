package uplink_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/buffer/buffertest"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/receipt"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// newIdentity returns a fresh Ed25519 identity called id.
func newIdentity(t testing.TB, id string) *keys.Identity {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	must.NoError(t, err)
	return &keys.Identity{ID: id, Key: k}
}

// ingest stands in for the backend's `edgegw ingest`: it receives every
// gateway's data as the broker's ingest identity, and signs receipts with
// its own key and publishes them retained on <prefix>/<gateway>/receipt.
type ingest struct {
	t   testing.TB
	br  *mqtttest.Broker
	id  *keys.Identity
	pub paho.Client
	rx  received

	mu      sync.Mutex
	covered map[uint64]struct{} // numbers covered by a receipt every has sent
	maxOut  int                 // the most numbers received at once and not covered by a receipt sent
}

// startIngest subscribes an ingest stand-in to city/+/data/#.
func startIngest(t testing.TB, br *mqtttest.Broker) *ingest {
	t.Helper()
	in := &ingest{t: t, br: br, id: newIdentity(t, "ingest-1"), covered: map[uint64]struct{}{}}
	in.pub = rawClient(t, br, br.Ingest, "ingest-receipts")
	subscribe(t, br, br.Ingest, "ingest-data", true, []string{"city/+/data/#"}, in.handle)
	return in
}

// handle records a message and how many received numbers are now without
// a receipt sent for them: no more than the gateway has published and not
// seen receipted.
func (in *ingest) handle(topic string, payload []byte) {
	in.rx.handle(topic, payload)
	in.mu.Lock()
	defer in.mu.Unlock()
	in.maxOut = max(in.maxOut, in.rx.distinct()-len(in.covered))
}

// outstanding returns the most numbers received at once without a receipt
// sent by every.
func (in *ingest) outstanding() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.maxOut
}

// pinned is what a gateway pins to trust this ingest.
func (in *ingest) pinned() []keys.PublicIdentity { return []keys.PublicIdentity{in.id.Public()} }

// sign returns r signed by signer (the ingest's key when nil).
func (in *ingest) sign(signer *keys.Identity, r receipt.Receipt) []byte {
	in.t.Helper()
	if signer == nil {
		signer = in.id
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	data, err := receipt.Sign(signer, r)
	if err != nil {
		in.t.Fatal(err)
	}
	return data
}

// publish publishes payload retained on gw's receipt topic and waits for the
// broker's PUBACK.
func (in *ingest) publish(gw string, payload []byte) {
	in.t.Helper()
	waitToken(in.t, in.pub.Publish("city/"+gw+"/receipt", 1, true, payload))
}

// send signs r with the ingest's key and publishes it for r.Gateway.
func (in *ingest) send(r receipt.Receipt) { in.t.Helper(); in.publish(r.Gateway, in.sign(nil, r)) }

// received returns the receipt for gw covering every number received from
// it so far.
func (in *ingest) received(gw string) receipt.Receipt {
	in.rx.mu.Lock()
	seqs := make([]uint64, 0, len(in.rx.seqs))
	for s := range in.rx.seqs {
		seqs = append(seqs, s)
	}
	in.rx.mu.Unlock()
	slices.Sort(seqs)
	var set [][2]uint64
	for _, s := range seqs {
		if n := len(set); n > 0 && set[n-1][1]+1 == s {
			set[n-1][1] = s
		} else {
			set = append(set, [2]uint64{s, s})
		}
	}
	return receipt.FromSet(gw, set, time.Now())
}

// every receipts what gw sent, every d, until the test ends.
func (in *ingest) every(gw string, d time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(d)
		defer tick.Stop()
		var last [2]uint64
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			r := in.received(gw)
			if now := [2]uint64{r.Through, r.Highest()}; now == last {
				continue
			} else {
				last = now
			}
			in.mu.Lock() // counted as covered before the gateway can know
			for s := uint64(1); s <= r.Highest(); s++ {
				if r.Covers(s) {
					in.covered[s] = struct{}{}
				}
			}
			in.mu.Unlock()
			data, err := receipt.Sign(in.id, r)
			if err != nil {
				in.t.Error(err)
				return
			}
			tok := in.pub.Publish("city/"+gw+"/receipt", 1, true, data)
			select {
			case <-tok.Done():
			case <-ctx.Done():
				return
			}
		}
	}()
	in.t.Cleanup(func() { cancel(); <-done })
}

// logRecorder keeps every log record, for tests of what is logged.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}

// count returns how many records at level have a message starting with msg.
func (l *logRecorder) count(level slog.Level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level == level && strings.HasPrefix(r.Message, msg) {
			n++
		}
	}
	return n
}

// recordingLogger logs to the test output and to the returned recorder.
func recordingLogger(t testing.TB) (*slog.Logger, *logRecorder) {
	rec := &logRecorder{}
	return slog.New(slog.NewMultiHandler(testLogger(t).Handler(), rec)), rec
}

// boltSource opens a real bbolt buffer in a temp dir holding n closed
// telemetry batches (numbers 1..n, 3 readings each), closed when the test
// ends.
func boltSource(t testing.TB, n int) (*buffer.Bolt, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "buffer.db")
	st := openBolt(t, path)
	for range n {
		buffertest.Fill(t, st, "telemetry", time.Now(), 1, 200, false)
	}
	return st, path
}

// openBolt opens the buffer at path, committing every call at once.
func openBolt(t testing.TB, path string) *buffer.Bolt {
	t.Helper()
	st, err := buffer.OpenBolt(path, buffer.Options{})
	must.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// seqsIn returns the numbers of the closed batches in st.
func seqsIn(t testing.TB, st buffer.Store) []uint64 {
	t.Helper()
	bs, err := st.Next(0, 1<<20)
	must.NoError(t, err)
	return buffertest.Seqs(bs)
}
