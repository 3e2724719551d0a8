package envelope

import (
	"bytes"
	"testing"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/internal/must"
)

func TestRoundTrip(t *testing.T) {
	for _, s := range []keys.Suite{keys.SuiteX25519, keys.SuiteMLKEM768X25519} {
		t.Run(s.String(), func(t *testing.T) {
			id := testIdentity(t, "gw-1", 1)
			rk := testRecipient(t, s, 2)
			polls := meterReadings("meter-1", 100)
			header, chunks, trailer, wire := seal(t, id, rk.Public(), 42, polls)
			e, err := Parse(wire)
			must.NoError(t, err)
			if e.Header.Seq != 42 || e.Header.GatewayID != "gw-1" || e.Header.Class != "telemetry" ||
				e.Header.ConfigVersion != 7 || e.Header.Suite != s || !e.Header.Created.Equal(t0) ||
				!bytes.Equal(e.Header.RecipientKID, rk.KID()) || len(e.Header.Enc) != s.EncSize() {
				t.Errorf("header = %+v", e.Header)
			}
			if _, err := e.Open(rk); err == nil {
				t.Error("Open before Verify succeeded")
			}
			must.NoError(t, e.Verify(NewTrust(id.Public())))
			got, err := e.Open(testRecipient(t, s, 99), rk)
			must.NoError(t, err)
			sameReadings(t, got, flatten(polls))
			t.Logf("%s: header %d B, trailer %d B, %d chunks, wire %d B (%.2f B/reading)",
				s, len(header), len(trailer), len(chunks), len(wire), float64(len(wire))/100)
		})
	}
}

// TestTamperEveryByte flips each byte of small envelopes (sealed and gap) and
// requires Parse, Verify or Open to reject it.
func TestTamperEveryByte(t *testing.T) {
	id := testIdentity(t, "gw-1", 1)
	rk := testRecipient(t, keys.SuiteX25519, 2)
	trust := NewTrust(id.Public())
	_, _, _, sealed := seal(t, id, rk.Public(), 1, [][]reading.Reading{meterPoll("m", 0)[:2], meterPoll("m", 1)[:1]})
	gh, err := GapHeader("gw-1", 2, 7, t0)
	must.NoError(t, err)
	gc, err := GapChunks(Gap{FromSeq: 1, ToSeq: 1, Batches: 1, Readings: 3, Reason: "buffer-full"})
	must.NoError(t, err)
	gt, err := Sign(id, gh, gc)
	must.NoError(t, err)
	gap := Marshal(gh, gc, gt)
	for name, wire := range map[string][]byte{"sealed": sealed, "gap": gap} {
		if _, err := openAny(wire, trust, rk); err != nil {
			t.Fatalf("%s: untampered envelope rejected: %v", name, err)
		}
		for i := range wire {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				w := bytes.Clone(wire)
				w[i] ^= mask
				if out, err := openAny(w, trust, rk); err == nil {
					t.Errorf("%s: byte %d ^ %#02x accepted: %v", name, i, mask, out)
				}
			}
		}
		// Truncation and extension.
		for n := range len(wire) {
			if _, err := openAny(wire[:n], trust, rk); err == nil {
				t.Errorf("%s: truncated to %d bytes accepted", name, n)
			}
		}
		if _, err := openAny(append(bytes.Clone(wire), 0), trust, rk); reason(err) != ReasonMalformed {
			t.Errorf("%s: trailing byte: err = %v, want malformed", name, err)
		}
		t.Logf("%s envelope: %d bytes, every byte flipped 3 ways", name, len(wire))
	}
}

// openAny runs Parse, Verify and Open or Gap.
func openAny(wire []byte, trust Trust, rk *keys.RecipientPrivate) (any, error) {
	e, err := Parse(wire)
	if err != nil {
		return nil, err
	}
	if err := e.Verify(trust); err != nil {
		return nil, err
	}
	if e.Header.Suite == keys.SuiteNone {
		return e.Gap()
	}
	return e.Open(rk)
}

func TestRejections(t *testing.T) {
	id := testIdentity(t, "gw-1", 1)
	other := testIdentity(t, "gw-2", 50)
	rk := testRecipient(t, keys.SuiteX25519, 2)
	trust := NewTrust(id.Public(), other.Public())
	polls := meterReadings("m", 36)
	hA, cA, tA, _ := seal(t, id, rk.Public(), 1, polls)
	hB, cB, tB, _ := seal(t, id, rk.Public(), 2, polls)
	// A batch by gw-2 claiming to be gw-1: gw-2 signs a header naming gw-1.
	forged := func() []byte {
		tr, err := Sign(&keys.Identity{ID: "gw-1", Key: other.Key}, hA, cA)
		must.NoError(t, err)
		return Marshal(hA, cA, tr)
	}()
	// The gateway itself signs a corrupted ciphertext, and a chunk whose
	// plaintext is not SenML.
	corrupt := func() []byte {
		c := [][]byte{cA[0], bytes.Clone(cA[1]), cA[2]}
		c[1][3] ^= 1
		tr, _ := Sign(id, hA, c)
		return Marshal(hA, c, tr)
	}()
	notSenML := func() []byte {
		b, err := NewBatch(rk.Public(), "gw-1", "telemetry", 1, t0)
		must.NoError(t, err)
		h, _ := b.Header(9)
		hh := headerHash(h)
		ct, err := b.sender.Seal(chunkAAD(&hh, 0), []byte{0x82, 0x01})
		must.NoError(t, err)
		tr, _ := Sign(id, h, [][]byte{ct})
		return Marshal(h, [][]byte{ct}, tr)
	}()
	v2 := func() []byte {
		h, err := encMode.Marshal([]any{2, "gw-1", 1})
		must.NoError(t, err)
		return Marshal(h, nil, tA)
	}()
	tests := []struct {
		name  string
		wire  []byte
		trust Trust
		key   *keys.RecipientPrivate
		want  string
	}{
		{"header replayed with other chunks", Marshal(hA, cB, tA), trust, rk, ReasonBadSignature},
		{"header replayed with other chunks and trailer", Marshal(hA, cB, tB), trust, rk, ReasonBadSignature},
		{"other header", Marshal(hB, cA, tA), trust, rk, ReasonBadSignature},
		{"chunks reordered", Marshal(hA, [][]byte{cA[1], cA[0], cA[2]}, tA), trust, rk, ReasonBadSignature},
		{"chunk dropped", Marshal(hA, cA[:2], tA), trust, rk, ReasonBadSignature},
		{"first chunk dropped", Marshal(hA, cA[1:], tA), trust, rk, ReasonBadSignature},
		{"chunk appended", Marshal(hA, append(cA[:3:3], cB[2]), tA), trust, rk, ReasonBadSignature},
		{"chunk duplicated", Marshal(hA, append(cA[:3:3], cA[2]), tA), trust, rk, ReasonBadSignature},
		{"no chunks", Marshal(hA, nil, tA), trust, rk, ReasonBadSignature},
		{"untrusted gateway", Marshal(hA, cA, tA), NewTrust(other.Public()), rk, ReasonUntrustedGateway},
		{"empty trust", Marshal(hA, cA, tA), nil, rk, ReasonUntrustedGateway},
		{"key of another gateway", forged, trust, rk, ReasonUntrustedGateway},
		{"wrong recipient key", Marshal(hA, cA, tA), trust, testRecipient(t, keys.SuiteX25519, 3), ReasonNoRecipientKey},
		{"recipient key of other suite", Marshal(hA, cA, tA), trust, testRecipient(t, keys.SuiteMLKEM768X25519, 2), ReasonNoRecipientKey},
		{"no recipient key", Marshal(hA, cA, tA), trust, nil, ReasonNoRecipientKey},
		{"signed corrupt ciphertext", corrupt, trust, rk, ReasonDecryptFailed},
		{"signed non-SenML plaintext", notSenML, trust, rk, ReasonBadSenML},
		{"version 2", v2, trust, rk, ReasonUnsupportedVersion},
		{"empty", nil, trust, rk, ReasonMalformed},
		{"not an array", []byte{0x40}, trust, rk, ReasonMalformed},
		{"non-canonical length", append([]byte{0x83, 0x58, byte(len(hA))}, Marshal(hA, cA, tA)[2:]...), trust, rk, ReasonMalformed},
		{"too large", make([]byte, MaxSize+1), trust, rk, ReasonMalformed},
		{"trailer missing", Marshal(hA, cA, nil), trust, rk, ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := openWire(tc.wire, tc.trust, tc.key)
			if err == nil {
				t.Fatalf("accepted: %d readings", len(out))
			}
			if got := reason(err); got != tc.want {
				t.Fatalf("reason %q, want %q (err: %v)", got, tc.want, err)
			}
		})
	}
}

// TestSignAfterCrash closes a batch from stored bytes only, with a fresh
// process state: no Batch, only the header and chunks read back from storage.
func TestSignAfterCrash(t *testing.T) {
	id := testIdentity(t, "gw-1", 1)
	rk := testRecipient(t, keys.SuiteX25519, 2)
	var stored [][]byte // what the buffer persisted
	func() {
		b, err := NewBatch(rk.Public(), "gw-1", "personal", 3, t0)
		must.NoError(t, err)
		h, err := b.Header(77)
		must.NoError(t, err)
		stored = append(stored, bytes.Clone(h))
		for k := range 3 {
			c, err := b.Seal(meterPoll("m", k))
			must.NoError(t, err)
			stored = append(stored, bytes.Clone(c))
		}
		// crash: the Batch and its HPKE context are lost.
	}()
	tr, err := Sign(id, stored[0], stored[1:])
	must.NoError(t, err)
	got, err := openWire(Marshal(stored[0], stored[1:], tr), NewTrust(id.Public()), rk)
	must.NoError(t, err)
	sameReadings(t, got, flatten([][]reading.Reading{meterPoll("m", 0), meterPoll("m", 1), meterPoll("m", 2)}))
}

func TestGap(t *testing.T) {
	id := testIdentity(t, "gw-1", 1)
	g := Gap{FromSeq: 10, ToSeq: 14, Batches: 5, Readings: 600, Reason: "buffer-full"}
	h, err := GapHeader("gw-1", 15, 7, t0)
	must.NoError(t, err)
	c, err := GapChunks(g)
	must.NoError(t, err)
	tr, err := Sign(id, h, c)
	must.NoError(t, err)
	e, err := Parse(Marshal(h, c, tr))
	must.NoError(t, err)
	if _, err := e.Gap(); err == nil {
		t.Error("Gap before Verify succeeded")
	}
	must.NoError(t, e.Verify(NewTrust(id.Public())))
	got, err := e.Gap()
	if err != nil || got != g {
		t.Fatalf("Gap() = %+v, %v; want %+v", got, err, g)
	}
	if _, err := e.Open(testRecipient(t, keys.SuiteX25519, 2)); err == nil {
		t.Error("Open of a gap record succeeded")
	}
	if e.Header.Class != GapClass || e.Header.Suite != keys.SuiteNone || e.Header.Seq != 15 {
		t.Errorf("header = %+v", e.Header)
	}
	for _, bad := range []Gap{{FromSeq: 2, ToSeq: 1, Reason: "x"}, {Reason: ""}} {
		if _, err := GapChunks(bad); err == nil {
			t.Errorf("GapChunks(%+v) succeeded", bad)
		}
	}
}

func TestAPIMisuse(t *testing.T) {
	id := testIdentity(t, "gw-1", 1)
	rk := testRecipient(t, keys.SuiteX25519, 2)
	if _, err := NewBatch(nil, "gw-1", "telemetry", 1, t0); err == nil {
		t.Error("NewBatch(nil) succeeded")
	}
	for _, class := range []string{"", "gap", "a/b", "a b"} {
		if _, err := NewBatch(rk.Public(), "gw-1", class, 1, t0); err == nil {
			t.Errorf("NewBatch with class %q succeeded", class)
		}
	}
	if _, err := NewBatch(&keys.RecipientPublic{Suite: keys.SuiteMLKEM768X25519, Key: rk.Public().Key}, "gw-1", "telemetry", 1, t0); err == nil {
		t.Error("NewBatch with a key of the wrong suite succeeded")
	}
	b, err := NewBatch(rk.Public(), "gw-1", "telemetry", 1, t0)
	must.NoError(t, err)
	if _, err := b.Seal(meterPoll("m", 0)); err == nil {
		t.Error("Seal before Header succeeded")
	}
	h, err := b.Header(1)
	must.NoError(t, err)
	if _, err := b.Header(2); err == nil {
		t.Error("second Header succeeded")
	}
	if _, err := b.Seal(nil); err == nil {
		t.Error("Seal(nil) succeeded")
	}
	if _, err := Sign(testIdentity(t, "gw-2", 1), h, nil); err == nil {
		t.Error("Sign with the identity of another gateway succeeded")
	}
	if _, err := Sign(id, []byte{0x80}, nil); err == nil {
		t.Error("Sign of a malformed header succeeded")
	}
}

// TestTrailerForm checks the COSE structure byte by byte.
func TestTrailerForm(t *testing.T) {
	id := testIdentity(t, "gw-1", 1)
	rk := testRecipient(t, keys.SuiteX25519, 2)
	_, _, tr, _ := seal(t, id, rk.Public(), 1, meterReadings("m", 12))
	kid := id.Public().KID()
	want := append([]byte{0xd2, 0x84, 0x4d, 0xa2, 0x01, 0x27, 0x04, 0x48}, kid...)
	want = append(want, 0xa0, 0xf6, 0x58, 0x40)
	if len(tr) != len(want)+64 || !bytes.Equal(tr[:len(want)], want) {
		t.Fatalf("trailer = %x, want prefix %x", tr, want)
	}
}

// TestSealClearsPlaintext checks that the batch's scratch buffer holds no
// plaintext after Seal.
func TestSealClearsPlaintext(t *testing.T) {
	rk := testRecipient(t, keys.SuiteX25519, 2)
	b, err := NewBatch(rk.Public(), "gw-1", "telemetry", 1, t0)
	must.NoError(t, err)
	if _, err := b.Header(1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Seal(meterPoll("m", 0)); err != nil {
		t.Fatal(err)
	}
	if cap(b.buf) == 0 {
		t.Fatal("no scratch buffer")
	}
	if buf := b.buf[:cap(b.buf)]; bytes.ContainsFunc(buf, func(r rune) bool { return r != 0 }) {
		t.Fatalf("plaintext retained: %x", buf)
	}
}
