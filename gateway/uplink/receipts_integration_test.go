package uplink_test

import (
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/pki"
	"github.com/edgegw/edgegw/crypto/receipt"
	"github.com/edgegw/edgegw/gateway/uplink"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// withReceipts pins in's key and sets the receipt timeout.
func withReceipts(in *ingest, timeout time.Duration) func(*uplink.Config) {
	return func(c *uplink.Config) { c.Receipts, c.ReceiptTimeout = in.pinned(), timeout }
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// receiptsBed starts a broker, an ingest and a publisher with its receipt
// keys, of n batches in a real buffer, logging to the returned recorder.
func receiptsBed(t *testing.T, n int) (*ingest, *buffer.Bolt, *uplink.Publisher, *logRecorder) {
	br := integration(t)
	in := startIngest(t, br)
	st, _ := boltSource(t, n)
	log, rec := recordingLogger(t)
	p, _, _ := startPublisher(t, br, br.URL, "gw-001", st, uplink.Deps{Logger: log}, withReceipts(in, time.Hour))
	return in, st, p, rec
}

// TestIntegrationReceiptsDeleteWhatTheyCover: with receipt keys, batches
// stay in the real buffer after the broker's PUBACK; a receipt deletes
// exactly the batches it covers, holes included, and State shows what is
// still unreceipted.
func TestIntegrationReceiptsDeleteWhatTheyCover(t *testing.T) {
	in, st, p, rec := receiptsBed(t, 20)

	eventually(t, "20 PUBACKs and 20 batches at the ingest", func() bool { return p.State().Acked == 20 && in.rx.distinct() == 20 })
	if got := seqsIn(t, st); !slices.Equal(got, seqRange(1, 20)) {
		t.Fatalf("buffer after the PUBACKs holds %v, want 1..20: a PUBACK deleted batches", got)
	}
	if s := p.State().Receipts; !s.Enabled || s.Unreceipted != 20 || s.UnreceiptedReadings != 60 || s.OldestUnreceipted.IsZero() || !s.Last.Time.IsZero() {
		t.Errorf("receipt state before a receipt: %+v", s)
	}

	in.send(receipt.Receipt{Gateway: "gw-001", Through: 5, Ranges: [][2]uint64{{8, 10}, {15, 15}}})
	eventually(t, "the receipt applied", func() bool { return p.State().Receipts.Receipted == 9 })
	want := []uint64{6, 7, 11, 12, 13, 14, 16, 17, 18, 19, 20}
	if got := seqsIn(t, st); !slices.Equal(got, want) {
		t.Fatalf("buffer after the receipt holds %v, want %v", got, want)
	}
	s := p.State().Receipts
	if s.Receipted != 9 || s.Last.Through != 5 || s.Last.Signer != "ingest-1" || s.LastAt.IsZero() || s.Unreceipted != 11 || s.UnreceiptedReadings != 33 {
		t.Errorf("receipt state after the receipt: %+v", s)
	}

	in.send(receipt.Receipt{Gateway: "gw-001", Through: 20})
	eventually(t, "an empty buffer", func() bool { return p.State().Receipts.Receipted == 20 })
	if got := seqsIn(t, st); len(got) != 0 {
		t.Errorf("buffer holds %v after a receipt through 20", got)
	}
	if s := p.State(); s.Receipts.Receipted != 20 || s.Receipts.Unreceipted != 0 || !s.Receipts.OldestUnreceipted.IsZero() || s.Published != 20 || s.Receipts.Republished != 0 {
		t.Errorf("state at the end: %+v", s)
	}
	if n := rec.count(slog.LevelWarn, "no receipt keys"); n != 0 {
		t.Errorf("%d warnings about missing receipt keys with keys pinned", n)
	}
}

// TestIntegrationReceiptsRejected: a forged receipt (another key), one with
// a broken signature, one for another gateway, a malformed payload and a
// stale receipt delete nothing; each is counted by reason, and only the
// first is logged as a warning.
func TestIntegrationReceiptsRejected(t *testing.T) {
	in, st, p, rec := receiptsBed(t, 6)
	eventually(t, "6 PUBACKs", func() bool { return p.State().Acked == 6 })

	all := receipt.Receipt{Gateway: "gw-001", Through: 6}
	broken := in.sign(nil, all)
	broken[len(broken)-1] ^= 1 // the last byte of the signature
	for i, c := range []struct {
		reason  string
		payload []byte
	}{
		{uplink.RejectUntrusted, in.sign(newIdentity(t, "ingest-1"), all)},
		{uplink.RejectBadSignature, broken},
		{uplink.RejectForeign, in.sign(nil, receipt.Receipt{Gateway: "gw-002", Through: 6})},
		{uplink.RejectMalformed, []byte("all batches stored, trust me")},
	} {
		in.publish("gw-001", c.payload)
		eventually(t, c.reason+" counted", func() bool { return p.State().Receipts.Rejected[c.reason] == 1 })
		if got := seqsIn(t, st); len(got) != 6 {
			t.Fatalf("%s receipt (case %d) deleted batches: %v left", c.reason, i, got)
		}
	}

	in.send(receipt.Receipt{Gateway: "gw-001", Through: 3})
	eventually(t, "the valid receipt applied", func() bool { return p.State().Receipts.Receipted == 3 })
	in.send(receipt.Receipt{Gateway: "gw-001", Through: 2, Ranges: [][2]uint64{{5, 6}}})
	eventually(t, "the stale receipt counted", func() bool { return p.State().Receipts.Rejected[uplink.RejectStale] == 1 })
	if got := seqsIn(t, st); !slices.Equal(got, []uint64{4, 5, 6}) {
		t.Errorf("buffer holds %v, want 4 5 6: the stale receipt deleted batches", got)
	}
	s := p.State().Receipts
	if s.Accepted != 1 || s.Last.Through != 3 || len(s.Rejected) != 5 {
		t.Errorf("receipt state: %+v", s)
	}
	if w, d := rec.count(slog.LevelWarn, "receipt rejected"), rec.count(slog.LevelDebug, "receipt rejected"); w != 1 || d != 4 {
		t.Errorf("%d warnings and %d debug lines for 5 rejected receipts, want 1 and 4 (rate-limited)", w, d)
	}
}

// TestIntegrationRepublishAfterTimeout: batches without a receipt are
// published again after the receipt timeout, oldest first, each time after
// twice as long, until a receipt covers them.
func TestIntegrationRepublishAfterTimeout(t *testing.T) {
	br := integration(t)
	in := startIngest(t, br)
	src := &memSource{}
	src.add(5, "telemetry", 10)
	const timeout = 100 * time.Millisecond
	start := time.Now()
	p, _, _ := startPublisher(t, br, br.URL, "gw-001", src, uplink.Deps{}, withReceipts(in, timeout))

	eventually(t, "every batch published 4 times", func() bool {
		in.rx.mu.Lock()
		defer in.rx.mu.Unlock()
		for s := uint64(1); s <= 5; s++ {
			if in.rx.seqs[s] < 4 {
				return false
			}
		}
		return true
	})
	// Published at 0, then after 100, 200 and 400 ms more: without the
	// doubling the fourth publish would come after 300 ms.
	if elapsed := time.Since(start); elapsed < 7*timeout {
		t.Errorf("4 publishes of each batch within %v: the republish delay does not double", elapsed)
	}
	if st := p.State(); st.Receipts.Republished < 15 || src.len() != 5 {
		t.Errorf("state %+v, %d batches in the source; want >= 15 republishes and nothing deleted", st, src.len())
	}
	// Each round goes out oldest first.
	nth := map[uint64]int{}
	rounds := map[int][]uint64{}
	for _, m := range in.rx.Snapshot() {
		s := seqOf(m.Payload)
		nth[s]++
		rounds[nth[s]] = append(rounds[nth[s]], s)
	}
	for round := 1; round <= 4; round++ {
		if !slices.IsSorted(rounds[round]) {
			t.Errorf("publish %d of the batches came in the order %v", round, rounds[round])
		}
	}

	in.send(receipt.Receipt{Gateway: "gw-001", Through: 5})
	eventually(t, "an empty source", func() bool { return src.len() == 0 })
	if st := p.State().Receipts; st.Unreceipted != 0 || st.Receipted != 5 {
		t.Errorf("receipt state after the receipt: %+v", st)
	}
}

// TestIntegrationRetainedReceiptAfterReconnect: a receipt published while
// the gateway's link is down is retained by the broker and applied as soon
// as the gateway is back. Meanwhile State shows when the next attempt is,
// and the connection error is cleared once connected again.
func TestIntegrationRetainedReceiptAfterReconnect(t *testing.T) {
	br := integration(t)
	in := startIngest(t, br)
	proxy := mqtttest.NewProxy(t, br.Addr)
	st, _ := boltSource(t, 10)
	p, _, _ := startPublisher(t, br, proxy.URL, "gw-001", st, uplink.Deps{}, withReceipts(in, time.Hour))
	eventually(t, "10 PUBACKs", func() bool { return p.State().Acked == 10 })

	proxy.SetDown(true)
	eventually(t, "a disconnected gateway with a next attempt planned", func() bool {
		s := p.State()
		return !s.Connected && s.LastError != "" && !s.NextRetry.IsZero()
	})
	in.send(receipt.Receipt{Gateway: "gw-001", Through: 10})
	if got := seqsIn(t, st); len(got) != 10 || p.State().Connected {
		t.Fatalf("buffer holds %v while the link is down; want all 10", got)
	}

	proxy.SetDown(false)
	eventually(t, "the retained receipt applied after the reconnect", func() bool { return p.State().Receipts.Receipted == 10 })
	if got := seqsIn(t, st); len(got) != 0 {
		t.Errorf("buffer holds %v after the receipt", got)
	}
	s := p.State()
	if s.Reconnects < 1 || s.Receipts.Accepted != 1 || s.Receipts.Receipted != 10 {
		t.Errorf("state %+v", s)
	}
	if !s.Connected || s.LastError != "" || !s.NextRetry.IsZero() {
		t.Errorf("connected again, but state still shows %q and next retry %v", s.LastError, s.NextRetry)
	}
}

// TestIntegrationRetainedReceiptAtStart: the agent restarts on the same
// buffer file after the backend stored everything; the retained receipt
// deletes it.
func TestIntegrationRetainedReceiptAtStart(t *testing.T) {
	br := integration(t)
	in := startIngest(t, br)
	st, path := boltSource(t, 8)
	p, stop, res := startPublisher(t, br, br.URL, "gw-001", st, uplink.Deps{}, withReceipts(in, time.Hour))
	eventually(t, "8 PUBACKs", func() bool { return p.State().Acked == 8 })
	stop()
	<-res.done
	must.NoError(t, st.Close())
	in.send(receipt.Receipt{Gateway: "gw-001", Through: 8})

	st = openBolt(t, path)
	if got := seqsIn(t, st); len(got) != 8 {
		t.Fatalf("reopened buffer holds %v, want 8 batches", got)
	}
	p, _, _ = startPublisher(t, br, br.URL, "gw-001", st, uplink.Deps{}, withReceipts(in, time.Hour))
	eventually(t, "the retained receipt applied at start", func() bool { return p.State().Receipts.Receipted == 8 })
	if got := seqsIn(t, st); len(got) != 0 {
		t.Errorf("buffer holds %v after the receipt", got)
	}
	if s := p.State().Receipts; s.Accepted != 1 || s.Last.Through != 8 {
		t.Errorf("receipt state %+v", s)
	}
}

// TestIntegrationUnreceiptedBound drains 300 batches to an ingest that
// receipts what it received every 20 ms: counted at the broker's side, no
// more than the bound are ever published and not covered by a receipt sent.
func TestIntegrationUnreceiptedBound(t *testing.T) {
	br := integration(t)
	in := startIngest(t, br)
	in.every("gw-001", 20*time.Millisecond)
	src := &memSource{}
	src.add(300, "telemetry", 100)
	const bound = 10
	p, _, _ := startPublisher(t, br, br.URL, "gw-001", src, uplink.Deps{}, func(c *uplink.Config) {
		withReceipts(in, time.Hour)(c)
		c.Inflight, c.Unreceipted = 4, bound
	})
	eventually(t, "the drain", func() bool { return src.len() == 0 })
	if n := in.outstanding(); n != bound {
		t.Errorf("at most %d batches were at the ingest without a receipt, want %d (the bound, reached)", n, bound)
	}
	if s := p.State(); s.Receipts.Receipted != 300 || s.Published != 300 {
		t.Errorf("state %+v", s)
	}
}

// TestIntegrationWithoutReceipts: without receipt keys the publisher
// deletes on PUBACK as before and says once, at start, what that risks.
func TestIntegrationWithoutReceipts(t *testing.T) {
	br := integration(t)
	src := &memSource{}
	src.add(5, "telemetry", 10)
	log, rec := recordingLogger(t)
	p, _, _ := startPublisher(t, br, br.URL, "gw-001", src, uplink.Deps{Logger: log}, nil)
	eventually(t, "an empty source", func() bool { return src.len() == 0 })
	if n := rec.count(slog.LevelWarn, "no receipt keys pinned: a batch is deleted on the broker's PUBACK, so a broker crash, a full broker queue or an ACL-denied publish loses it"); n != 1 {
		t.Errorf("%d warnings about missing receipt keys, want 1", n)
	}
	if s := p.State(); s.Receipts.Enabled || s.Receipts.Unreceipted != 0 || s.Acked != 5 {
		t.Errorf("state %+v", s)
	}
}

// TestIntegrationACLDeniedDeletesNothing: a gateway whose certificate is
// another gateway's (allowed here by the test switch) publishes into the
// broker's ACL, which drops every publish (Mosquitto 2.0 acknowledges the
// first and closes the connection). No receipt comes, nothing is deleted,
// and the batches go out again on every connection.
func TestIntegrationACLDeniedDeletesNothing(t *testing.T) {
	br := integration(t)
	in := startIngest(t, br)
	in.every("gw-001", 20*time.Millisecond)
	st, _ := boltSource(t, 5)
	cert, key := br.Client(t, "gw-002")
	p, _, _ := startPublisher(t, br, br.URL, "gw-001", st, uplink.Deps{}, func(c *uplink.Config) {
		withReceipts(in, 200*time.Millisecond)(c)
		c.Cert, c.Key, c.AllowCertMismatch = cert, key, true
	})
	eventually(t, "each batch published 3 times", func() bool { return p.State().Published >= 15 })
	s := p.State()
	if got := seqsIn(t, st); len(got) != 5 || s.Receipts.Accepted != 0 || s.Receipts.Unreceipted != 5 || s.Receipts.OldestUnreceipted.IsZero() {
		t.Errorf("buffer holds %v, state %+v: want all 5 batches kept and unreceipted", got, s)
	}
	if n := in.rx.distinct(); n != 0 {
		t.Errorf("the ingest received %d of gw-001's batches from gw-002's certificate", n)
	}
}

// TestNewCertificateMismatch: New refuses a client certificate whose common
// name is not the gateway id, naming both.
func TestNewCertificateMismatch(t *testing.T) {
	ca, err := pki.NewCA("ca", time.Hour)
	must.NoError(t, err)
	dir := t.TempDir()
	must.NoError(t, pki.WriteFiles(dir, "ca", ca.CertPEM(), nil))
	crt, key, err := ca.Issue("gw-002", false, nil, time.Hour)
	must.NoError(t, err)
	must.NoError(t, pki.WriteFiles(dir, "gw-002", crt, key))
	cfg := uplink.Config{
		Broker: "ssl://127.0.0.1:8883", CA: filepath.Join(dir, "ca.pem"),
		Cert: filepath.Join(dir, "gw-002.pem"), Key: filepath.Join(dir, "gw-002.key"),
		TopicPrefix: "city", GatewayID: "gw-001",
	}
	_, err = uplink.New(cfg, &memSource{}, uplink.Deps{Marshal: marshal})
	if !errors.Is(err, uplink.ErrCertMismatch) || !strings.Contains(err.Error(), `"gw-002"`) || !strings.Contains(err.Error(), `"gw-001"`) {
		t.Fatalf("error %v, want ErrCertMismatch naming gw-002 and gw-001", err)
	}
	cfg.AllowCertMismatch = true
	if _, err := uplink.New(cfg, &memSource{}, uplink.Deps{Marshal: marshal}); err != nil {
		t.Fatalf("with the test switch: %v", err)
	}
}
