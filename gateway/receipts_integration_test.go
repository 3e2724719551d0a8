package gateway_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/gateway/doctor"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/poll"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// pinReceipts writes an ingest identity into the bed and pins it in the
// bed's configuration with the given receipt timeout.
func pinReceipts(t *testing.T, b *bed, timeout string) *keys.Identity {
	t.Helper()
	dir := filepath.Join(b.dir, "ingest")
	must.NoError(t, keys.InitIdentity(dir, "ingest-1", false))
	id, err := keys.LoadIdentity(dir)
	must.NoError(t, err)
	rewriteFile(t, b.cfgPath, "health_interval: 1s}", "health_interval: 1s, receipts: ["+filepath.Join(dir, "identity.pub")+"], receipt_timeout: "+timeout+"}")
	return id
}

// startStandIn receipts what the gateway sends, as `edgegw ingest` does:
// every 200 ms a receipt signed with its own key, covering every sequence
// number it verified and opened, published retained on the gateway's
// receipt topic.
func startStandIn(t *testing.T, b *bed, id *keys.Identity) {
	t.Helper()
	recv := backend.NewReceiver(b.trust, b.rks...)
	mqtttest.StartReceipter(t, b.br, id, 200*time.Millisecond, func(topic string, payload []byte) (string, uint64, error) {
		res, err := recv.Handle(topic, payload)
		return res.Gateway, res.Seq, err
	})
}

// TestIntegrationReceiptsShown: an agent with the ingest key pinned
// deletes what the ingest receipts; its status, its health document on the
// broker and doctor show the last receipt (time, through, signer) and what
// is unreceipted.
func TestIntegrationReceiptsShown(t *testing.T) {
	b := newBed(t, bedOptions{durability: 100 * time.Millisecond, maxDelay: 300 * time.Millisecond, maxBytes: "64MiB", maxReadings: 100})
	id := pinReceipts(t, b, "60s")
	var health mqtttest.Inbox
	mqtttest.Subscribe(t, b.br, b.br.Backend, "health", true, []string{"city/gw-001/health"}, nil, health.Handle)
	startStandIn(t, b, id)
	a, stop := startAgent(t, b, 10*time.Second)
	cl := control.Dial(filepath.Join(b.dir, "control.sock"))

	var st control.Status
	poll.Until(t, 30*time.Second, "five batches receipted", func() bool {
		var err error
		st, err = cl.Status(context.Background())
		return err == nil && st.Uplink.Receipts != nil && st.Uplink.Receipts.ReceiptedBatches >= 5
	})
	r := st.Uplink.Receipts
	if r.Last == nil || r.Last.Signer != "ingest-1" || r.Last.Through == 0 || r.Last.Time.IsZero() || r.TimeoutSeconds != 60 || len(r.Rejected) != 0 {
		t.Errorf("status receipts = %+v, last %+v", r, r.Last)
	}
	poll.Until(t, 30*time.Second, "a health document with the last receipt", func() bool {
		for _, m := range health.Snapshot() {
			var h gateway.Health
			if json.Unmarshal(m.Payload, &h) == nil && h.Receipts != nil && h.Receipts.Last != nil && h.Receipts.Last.Signer == "ingest-1" {
				return true
			}
		}
		return false
	})
	res := doctor.Run(context.Background(), doctor.Options{Config: b.cfgPath, Timeout: 5 * time.Second})
	if i := slices.IndexFunc(res, func(r doctor.Result) bool { return r.Check == "receipts" }); i < 0 || res[i].Status != doctor.Pass || !strings.Contains(res[i].Detail, "by ingest-1, through") {
		t.Errorf("doctor: %+v", res)
	}
	must.NoError(t, stop())
	if h := a.Health(); h.Receipts == nil || h.Receipts.ReceiptedBatches == 0 {
		t.Errorf("health receipts %+v", h.Receipts)
	}
}

// TestIntegrationACLDeniedDoctor: an agent configured with another
// gateway's certificate (allowed by the test switch; `edgegw run` refuses
// it) publishes into the broker's ACL: nothing reaches the backend, nothing
// is deleted, and doctor warns that nothing was receipted within the
// receipt timeout, naming the certificate as the cause.
func TestIntegrationACLDeniedDoctor(t *testing.T) {
	b := newBed(t, bedOptions{durability: 100 * time.Millisecond, maxDelay: 200 * time.Millisecond, maxBytes: "64MiB", maxReadings: 100})
	id := pinReceipts(t, b, "1s")
	c := b.subscribe(t)
	startStandIn(t, b, id)
	other, otherKey := b.br.Client(t, "gw-002")
	cert, key := b.br.Client(t, "gw-001")
	rewriteFile(t, b.cfgPath, "cert: "+cert+", key: "+key, "cert: "+other+", key: "+otherKey)
	_, stop := startAgentWith(t, b, gateway.Deps{
		Logger:            slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
		AllowCertMismatch: true,
	})
	cl := control.Dial(filepath.Join(b.dir, "control.sock"))
	var st control.Status
	poll.Until(t, 30*time.Second, "batches published and unreceipted for over the receipt timeout", func() bool {
		var err error
		st, err = cl.Status(context.Background())
		return err == nil && st.Uplink.Receipts != nil && st.Uplink.Receipts.UnreceiptedBatches >= 2 && st.Uplink.Receipts.OldestUnreceiptedAge >= 2
	})
	if r := st.Uplink.Receipts; r.ReceiptedBatches != 0 || r.Last != nil || st.Buffer.Batches < r.UnreceiptedBatches {
		t.Errorf("receipts %+v, buffer %+v: want nothing receipted and every unreceipted batch still buffered", r, st.Buffer)
	}
	res := doctor.Run(context.Background(), doctor.Options{Config: b.cfgPath, Timeout: 5 * time.Second})
	var out strings.Builder
	doctor.Report(&out, res)
	i := slices.IndexFunc(res, func(r doctor.Result) bool { return r.Check == "receipts" })
	if i < 0 || res[i].Status != doctor.Warn || !strings.Contains(res[i].Detail, "none receipted") ||
		!strings.Contains(res[i].Detail, `CN "gw-002" is not the gateway id "gw-001"`) || !strings.Contains(res[i].Fix, "CN = gw-001") {
		t.Errorf("doctor's receipts check does not name the certificate:\n%s", out.String())
	}
	must.NoError(t, stop())
	if n := c.count(); n != 0 {
		t.Errorf("the backend received %d readings published under gw-002's certificate", n)
	}
}
