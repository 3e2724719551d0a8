// Package backendtest makes what a gateway sends, for the backend's tests:
// a gateway identity with a recipient key pair, and signed envelopes and gap
// records under chosen sequence numbers.
package backendtest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/internal/must"
)

// At is the time of the first reading of every batch.
var At = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// Gateway is a test gateway: its identity and the recipient it seals to.
type Gateway struct {
	t   testing.TB
	ID  *keys.Identity
	Pub *keys.RecipientPublic
	Key *keys.RecipientPrivate // the recipient's private key, for the backend
	Dir string                 // identity.pub, recipient.key and recipient.pub
}

// NewGateway generates the keys of gateway id in a temp dir.
func NewGateway(t testing.TB, id string) *Gateway {
	t.Helper()
	dir := t.TempDir()
	must.NoError(t, keys.InitIdentity(dir, id, false))
	must.NoError(t, keys.GenerateRecipient(dir, keys.SuiteX25519, false))
	ident, err := keys.LoadIdentity(dir)
	must.NoError(t, err)
	pub, err := keys.LoadRecipientPublic(filepath.Join(dir, "recipient.pub"))
	must.NoError(t, err)
	rk, err := keys.LoadRecipientPrivate(filepath.Join(dir, "recipient.key"))
	must.NoError(t, err)
	return &Gateway{t: t, ID: ident, Pub: pub, Key: rk, Dir: dir}
}

// Batch seals one poll of n readings of device aq-1 channel t (values
// 0.5, 1.5, ...) into a signed telemetry envelope with sequence seq.
func (g *Gateway) Batch(seq uint64, n int) []byte {
	g.t.Helper()
	b, err := envelope.NewBatch(g.Pub, g.ID.ID, "telemetry", 1, At)
	must.NoError(g.t, err)
	h, err := b.Header(seq)
	must.NoError(g.t, err)
	rs := make([]reading.Reading, n)
	for i := range rs {
		rs[i] = reading.Reading{Device: "aq-1", Channel: "t", Value: float64(i) + 0.5, Unit: reading.Celsius, Time: At.Add(time.Duration(i) * time.Second)}
	}
	chunk, err := b.Seal(rs)
	must.NoError(g.t, err)
	tr, err := envelope.Sign(g.ID, h, [][]byte{chunk})
	must.NoError(g.t, err)
	return envelope.Marshal(h, [][]byte{chunk}, tr)
}

// Gap builds a signed gap record with sequence seq reporting from..to
// dropped with their readings, for reason "max-bytes".
func (g *Gateway) Gap(seq, from, to, readings uint64) []byte {
	g.t.Helper()
	h, err := envelope.GapHeader(g.ID.ID, seq, 1, At)
	must.NoError(g.t, err)
	chunks, err := envelope.GapChunks(envelope.Gap{FromSeq: from, ToSeq: to, Batches: to - from + 1, Readings: readings, Reason: "max-bytes"})
	must.NoError(g.t, err)
	tr, err := envelope.Sign(g.ID, h, chunks)
	must.NoError(g.t, err)
	return envelope.Marshal(h, chunks, tr)
}
