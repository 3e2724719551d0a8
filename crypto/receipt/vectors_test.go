package receipt_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"

	"github.com/fxamacker/cbor/v2"

	"github.com/edgegw/edgegw/crypto/envelope/envelopetest"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/receipt"
)

var update = flag.Bool("update", false, "rewrite the receipt test vector in docs/envelope.md")

// docPath is the specification, whose vectors the tests check.
const docPath = "../../docs/envelope.md"

// vectorIngest is the ingest identity of the vector.
func vectorIngest() *keys.Identity {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = 0x60 + byte(i)
	}
	return &keys.Identity{ID: "ingest-1", Key: ed25519.NewKeyFromSeed(seed)}
}

// vectorReceipt is the receipt of the vector: gw-0001's batches 1 to 6
// committed (3 and 4 through the gap record 5), then 9, 10 and 12.
func vectorReceipt() receipt.Receipt {
	return receipt.Receipt{Gateway: "gw-0001", Through: 6, Ranges: [][2]uint64{{9, 10}, {12, 12}},
		Time: time.Date(2025, 6, 1, 12, 5, 0, 250e6, time.UTC)}
}

// sigStructure is the COSE Sig_structure of docs/envelope.md:
// ["Signature1", protected {1: -8, 4: kid}, empty bstr, payload].
func sigStructure(t testing.TB, kid, payload []byte) []byte {
	b, err := cbor.Marshal([]any{"Signature1", protected(kid), []byte{}, payload})
	must.NoError(t, err)
	return b
}

// protected is the protected header {1 (alg): -8 (EdDSA), 4 (kid): kid}.
func protected(kid []byte) []byte {
	return append([]byte{0xa2, 0x01, 0x27, 0x04, 0x48}, kid...)
}

// sign1 builds a receipt by hand from docs/envelope.md, independently of
// receipt.Sign: 18([protected, {}, payload, signature]), signed by key.
func sign1(t testing.TB, key ed25519.PrivateKey, kid, payload []byte) []byte {
	sig := ed25519.Sign(key, sigStructure(t, kid, payload))
	b, err := cbor.Marshal(cbor.Tag{Number: 18, Content: []any{protected(kid), map[int]int{}, payload, sig}})
	must.NoError(t, err)
	return b
}

func generate(t *testing.T) *envelopetest.Vector {
	id := vectorIngest()
	r := vectorReceipt()
	v := &envelopetest.Vector{}
	v.Add("vector", "receipt")
	v.Add("ingest_seed", hex.EncodeToString(id.Key.Seed()))
	v.Add("ingest_public", hex.EncodeToString(id.Public().Key))
	v.Add("ingest_line", id.Public().String())
	v.Add("ingest_kid", hex.EncodeToString(id.Public().KID()))
	v.Add("topic", "city/"+r.Gateway+"/receipt")
	v.Add("gateway", r.Gateway)
	v.Add("through", strconv.FormatUint(r.Through, 10))
	v.Add("ranges", fmt.Sprint(r.Ranges))
	v.Add("time", fmt.Sprintf("%d (%s)", r.Time.UnixMilli(), r.Time.Format(time.RFC3339Nano)))
	signed, err := receipt.Sign(id, r)
	must.NoError(t, err)
	payload, err := cbor.Marshal([]any{receipt.Context, r.Gateway, r.Through, r.Ranges, r.Time.UnixMilli()})
	must.NoError(t, err)
	v.Add("payload", hex.EncodeToString(payload))
	v.Add("sig_structure", hex.EncodeToString(sigStructure(t, id.Public().KID(), payload)))
	if want := sign1(t, id.Key, id.Public().KID(), payload); !bytes.Equal(signed, want) {
		t.Fatalf("receipt.Sign wrote\n%x\nthe specified form is\n%x", signed, want)
	}
	v.Add("receipt", hex.EncodeToString(signed))
	return v
}

// TestVectors checks that the receipt vector documented in docs/envelope.md
// is what receipt.Sign writes for its inputs (built here by hand from the
// specification, too) and that receipt.Verify accepts it with the documented
// content (-update rewrites it).
func TestVectors(t *testing.T) {
	vs := envelopetest.Sync(t, docPath, envelopetest.ReceiptBegin, envelopetest.ReceiptEnd, []*envelopetest.Vector{generate(t)}, *update)
	v := vs[0]
	pub, err := keys.ParsePublicIdentity(v.One(t, "ingest_line"))
	must.NoError(t, err)
	if sum := sha256.Sum256(pub.Key); !bytes.Equal(sum[:8], v.Hex(t, "ingest_kid")) {
		t.Fatal("the ingest key id is not as specified")
	}
	signed := v.Hex(t, "receipt")
	if !ed25519.Verify(pub.Key, v.Hex(t, "sig_structure"), signed[len(signed)-64:]) {
		t.Fatal("the documented Sig_structure does not verify")
	}
	r, err := receipt.Verify(signed, v.One(t, "gateway"), []keys.PublicIdentity{pub})
	must.NoError(t, err)
	got := []string{r.Gateway, strconv.FormatUint(r.Through, 10), fmt.Sprint(r.Ranges), fmt.Sprintf("%d (%s)", r.Time.UnixMilli(), r.Time.Format(time.RFC3339Nano)), r.Signer}
	want := []string{v.One(t, "gateway"), v.One(t, "through"), v.One(t, "ranges"), v.One(t, "time"), pub.ID}
	if !slices.Equal(got, want) {
		t.Fatalf("verified %q, documented %q", got, want)
	}
}

// TestVerifyAsSpecified checks the receiving rules of docs/envelope.md on
// receipts built by hand: what a gateway accepts and the outcome of each
// rejection.
func TestVerifyAsSpecified(t *testing.T) {
	id := vectorIngest()
	kid := id.Public().KID()
	pinned := []keys.PublicIdentity{id.Public()}
	ms := vectorReceipt().Time.UnixMilli()
	payload := func(items ...any) []byte {
		b, err := cbor.Marshal(items)
		must.NoError(t, err)
		return b
	}
	// A payload with a non-shortest integer: refused, like every
	// non-deterministic encoding.
	longThrough := payload(receipt.Context, "gw-0001", cbor.RawMessage{0x1b, 0, 0, 0, 0, 0, 0, 0, 6}, [][2]uint64{}, ms)
	tests := []struct {
		name string
		data []byte
		want error // nil: accepted
	}{
		{"as specified", sign1(t, id.Key, kid, payload(receipt.Context, "gw-0001", 6, [][2]uint64{{9, 10}}, ms)), nil},
		{"no ranges, nothing committed", sign1(t, id.Key, kid, payload(receipt.Context, "gw-0001", 0, [][2]uint64{}, ms)), nil},
		{"non-deterministic payload", sign1(t, id.Key, kid, longThrough), receipt.ErrMalformed},
		{"range starting at through+1", sign1(t, id.Key, kid, payload(receipt.Context, "gw-0001", 6, [][2]uint64{{7, 8}}, ms)), receipt.ErrMalformed},
		{"ranges touching", sign1(t, id.Key, kid, payload(receipt.Context, "gw-0001", 0, [][2]uint64{{3, 4}, {5, 6}}, ms)), receipt.ErrMalformed},
		{"range reversed", sign1(t, id.Key, kid, payload(receipt.Context, "gw-0001", 0, [][2]uint64{{4, 3}}, ms)), receipt.ErrMalformed},
		{"65 ranges", sign1(t, id.Key, kid, payload(receipt.Context, "gw-0001", 0, manyRanges(65), ms)), receipt.ErrMalformed},
		{"other context", sign1(t, id.Key, kid, payload("edgegw export manifest v1", "gw-0001", 6, [][2]uint64{}, ms)), receipt.ErrMalformed},
		{"gateway id with a slash", sign1(t, id.Key, kid, payload(receipt.Context, "gw/0001", 6, [][2]uint64{}, ms)), receipt.ErrMalformed},
		{"another gateway", sign1(t, id.Key, kid, payload(receipt.Context, "gw-0002", 6, [][2]uint64{}, ms)), receipt.ErrForeign},
		{"unpinned key id", sign1(t, id.Key, []byte("12345678"), payload(receipt.Context, "gw-0001", 6, [][2]uint64{}, ms)), receipt.ErrUntrusted},
		{"pinned key id, other key", sign1(t, identity(t, "x").Key, kid, payload(receipt.Context, "gw-0001", 6, [][2]uint64{}, ms)), receipt.ErrBadSignature},
		{"larger than 4096 bytes", sign1(t, id.Key, kid, payload(receipt.Context, "gw-0001", 6, [][2]uint64{}, ms, make([]byte, 4096))), receipt.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := receipt.Verify(tc.data, "gw-0001", pinned)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// manyRanges returns n single-number ranges 10, 12, 14, ...
func manyRanges(n int) [][2]uint64 {
	var rs [][2]uint64
	for i := range n {
		s := uint64(10 + 2*i)
		rs = append(rs, [2]uint64{s, s})
	}
	return rs
}
