package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/internal/sign1"
	"github.com/edgegw/edgegw/internal/must"

	"github.com/fxamacker/cbor/v2"

	"github.com/edgegw/edgegw/crypto/envelope/envelopetest"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
)

// This file checks, on crafted input, each rule docs/envelope.md states for
// receivers where a reader could otherwise have decided either way.

// pack returns the bytes of a hand-written SenML-CBOR pack given in hex with
// spaces and newlines for readability.
func pack(t *testing.T, h string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(h), ""))
	must.NoError(t, err)
	return b
}

// senmlCase is a SenML pack in hex and what DecodeSenML makes of it.
type senmlCase struct {
	name, pack string
	want       string                                   // error substring; "" when accepted
	check      func(t *testing.T, rs []reading.Reading) // of accepted packs; nil for none
}

// runSenML decodes each case's pack and checks the outcome.
func runSenML(t *testing.T, tests []senmlCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := DecodeSenML(pack(t, tc.pack))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q (readings %+v)", err, tc.want, rs)
			case tc.check != nil:
				tc.check(t, rs)
			}
		})
	}
}

// TestDeterministicSenML checks that SenML chunks must be in the deterministic
// encoding, as crafted chunks that hold valid readings in another encoding
// show, and that the encodings the rule allows are accepted.
func TestDeterministicSenML(t *testing.T) {
	// {0: "v", 2: 1.5, -2: "m:", -3: 1700000000}
	const good = "81 a4 0061 76 02 f9 3e00 21 62 6d3a 22 1a 6553f100"
	tests := []senmlCase{
		{"deterministic", good, "", nil},
		{"float32 where float16 is exact", "81 a4 0061 76 02 fa 3fc00000 21 62 6d3a 22 1a 6553f100", "fits in float16", nil},
		{"float64 where float32 is exact", "81 a4 0061 76 02 fb 406cc33340000000 21 62 6d3a 22 1a 6553f100", "fits in a shorter float", nil},
		{"float64 where float16 is exact", "81 a4 0061 76 02 fb 3ff8000000000000 21 62 6d3a 22 1a 6553f100", "fits in a shorter float", nil},
		{"float32 needed", "81 a4 0061 76 02 fa 4366199a 21 62 6d3a 22 1a 6553f100", "", nil},
		{"8-byte integer where 4 suffice", "81 a4 0061 76 02 f9 3e00 21 62 6d3a 22 1b 000000006553f100", "not in its shortest form", nil},
		{"2-byte head for an integer below 24", "81 a5 0061 76 02 f9 3e00 21 62 6d3a 22 1a 6553f100 6171 18 02", "not in its shortest form", nil},
		{"1-byte head for a text length below 24", "81 a4 00 78 01 76 02 f9 3e00 21 62 6d3a 22 1a 6553f100", "not in its shortest form", nil},
		{"2-byte head for an array length", "98 01 a4 0061 76 02 f9 3e00 21 62 6d3a 22 1a 6553f100", "not in its shortest form", nil},
		{"map keys not sorted", "81 a4 02 f9 3e00 0061 76 21 62 6d3a 22 1a 6553f100", "not in ascending order", nil},
		{"flags label before the base labels", "81 a5 0061 76 02 f9 3e00 6171 02 21 62 6d3a 22 1a 6553f100", "not in ascending order", nil},
		{"NaN as float32 under an unknown label", "81 a5 0061 76 02 f9 3e00 1863 fa 7fc00000 21 62 6d3a 22 1a 6553f100", "fits in float16", nil},
		{"NaN as float16 under an unknown label", "81 a5 0061 76 02 f9 3e00 1863 f9 7e00 21 62 6d3a 22 1a 6553f100", "", nil},
		{"base time as a float", "81 a4 0061 76 02 f9 3e00 21 62 6d3a 22 fa 4ecaa7e2", "", nil},
		{"base time as a float64 where float32 is exact", "81 a4 0061 76 02 f9 3e00 21 62 6d3a 22 fb 41d954fc40000000", "fits in a shorter float", nil},
		{"integer value", "81 a4 0061 76 02 03 21 62 6d3a 22 1a 6553f100", "", nil},
		{"integer value 2^64-1", "81 a4 0061 76 02 1b ffffffffffffffff 21 62 6d3a 22 1a 6553f100", "", nil},
		{"integer value below -2^63", "81 a4 0061 76 02 3b 8000000000000000 21 62 6d3a 22 1a 6553f100", "number expected", nil},
		{"indefinite length", "9f a4 0061 76 02 f9 3e00 21 62 6d3a 22 1a 6553f100 ff", "indefinite", nil},
		{"tag", "81 a4 0061 76 02 f9 3e00 21 62 6d3a 22 c1 1a 6553f100", "tag", nil},
		{"duplicate key", "81 a5 0061 76 02 f9 3e00 02 f9 3e00 21 62 6d3a 22 1a 6553f100", "duplicate", nil},
	}
	runSenML(t, tests)
	// Through a signed, sealed envelope: reason bad-senml.
	id := testIdentity(t, "gw-1", 1)
	rk := testRecipient(t, keys.SuiteX25519, 2)
	wire := sealRaw(t, id, rk.Public(), 3, pack(t, tests[1].pack))
	if _, err := openWire(wire, NewTrust(id.Public()), rk); reason(err) != ReasonBadSenML {
		t.Fatalf("envelope with a float32 where float16 is exact: %v, want %s", err, ReasonBadSenML)
	}
}

// sealRaw returns an envelope of one chunk sealing the given plaintext, signed
// by id: what a gateway that wrote another encoding would send.
func sealRaw(t *testing.T, id *keys.Identity, r *keys.RecipientPublic, seq uint64, plaintexts ...[]byte) []byte {
	t.Helper()
	b, err := NewBatch(r, id.ID, "telemetry", 1, t0)
	must.NoError(t, err)
	h, err := b.Header(seq)
	must.NoError(t, err)
	var chunks [][]byte
	for i, pt := range plaintexts {
		ct, err := b.sender.Seal(chunkAAD(&b.hh, i), pt)
		must.NoError(t, err)
		chunks = append(chunks, ct)
	}
	tr, err := Sign(id, h, chunks)
	must.NoError(t, err)
	return Marshal(h, chunks, tr)
}

// TestSenMLDecisions checks the SenML rules docs/envelope.md settles.
func TestSenMLDecisions(t *testing.T) {
	tests := []senmlCase{
		{"pack without bt", "81 a3 0061 76 02 f9 3e00 21 62 6d3a", "no base time", nil},
		{"pack without bn", "81 a3 0061 76 02 f9 3e00 22 1a 6553f100", "base name", nil},
		{"bn with a ':' before its end", "81 a4 0061 76 02 f9 3e00 21 64 613a623a 22 1a 6553f100", "invalid character ':'", nil},
		{"channel with a ':'", "81 a4 0063 763a31 02 f9 3e00 21 62 6d3a 22 1a 6553f100", "", func(t *testing.T, rs []reading.Reading) {
			if rs[0].Device != "m" || rs[0].Channel != "v:1" {
				t.Errorf("device %q channel %q", rs[0].Device, rs[0].Channel)
			}
		}},
		{"value with the read-error flag", "81 a5 0061 76 02 f9 3e00 21 62 6d3a 22 1a 6553f100 6171 10", "read-error", nil},
		{"read-error without a value", "81 a4 0061 76 21 62 6d3a 22 1a 6553f100 6171 10", "", func(t *testing.T, rs []reading.Reading) {
			if rs[0].Flags != reading.ReadError || rs[0].Value != 0 {
				t.Errorf("got %+v", rs[0])
			}
		}},
		{"no value, no read-error flag", "81 a3 0061 76 21 62 6d3a 22 1a 6553f100", "no value", nil},
		{"empty pack", "80", "empty pack", nil},
		{"integer value", "81 a4 0061 76 02 19 03e8 21 62 6d3a 22 1a 6553f100", "", func(t *testing.T, rs []reading.Reading) {
			if rs[0].Value != 1000 {
				t.Errorf("value %v", rs[0].Value)
			}
		}},
		{"unknown flag bits", "81 a5 0061 76 02 f9 3e00 21 62 6d3a 22 1a 6553f100 6171 18 81", "", func(t *testing.T, rs []reading.Reading) {
			if rs[0].Flags != 0x81 || !slices.Equal(rs[0].Flags.Names(), []string{"out-of-range", "unknown"}) {
				t.Errorf("flags %#x %v", uint16(rs[0].Flags), rs[0].Flags.Names())
			}
		}},
		{"8 nested arrays and maps under an unknown label", "81 a5 0061 76 02 f9 3e00 1863 81 81 81 81 81 80 21 62 6d3a 22 1a 6553f100", "", nil},
		{"9 nested arrays and maps", "81 a5 0061 76 02 f9 3e00 1863 81 81 81 81 81 81 80 21 62 6d3a 22 1a 6553f100", "exceeded max nested level", nil},
		{"65 labels", "81 b8 41 0061 76 02 f9 3e00 " + manyLabels(61) + " 21 62 6d3a 22 1a 6553f100", "exceeded max number of key-value pairs", nil},
		{"64 labels", "81 b8 40 0061 76 02 f9 3e00 " + manyLabels(60) + " 21 62 6d3a 22 1a 6553f100", "", nil},
		{"base fields apply to the records after them", "82 a4 0061 76 02 f9 3e00 21 62 6d3a 22 1a 6553f100 a4 0061 77 02 f9 3e00 22 1a 6553f101 23 61 56", "", func(t *testing.T, rs []reading.Reading) {
			if rs[1].Device != "m" || rs[1].Unit != "V" || !rs[1].Time.Equal(time.Unix(1700000001, 0)) {
				t.Errorf("second record %+v", rs[1])
			}
		}},
		{"time rounded to the millisecond, half away from zero", "81 a5 0061 76 02 f9 3e00 06 fb 3f60624dd2f1a9fc 21 62 6d3a 22 1a 6553f100", "", func(t *testing.T, rs []reading.Reading) {
			// t = 0.002 (nearest float64 slightly above 0.002): 2 ms.
			if got := rs[0].Time.Sub(time.Unix(1700000000, 0)); got != 2*time.Millisecond {
				t.Errorf("time offset %v", got)
			}
		}},
	}
	runSenML(t, tests)
	// At most 10,000 records.
	first, rec := "a4 0061 76 02 f9 3e00 21 62 6d3a 22 1a 6553f100", " a2 0061 76 02 f9 0000"
	if rs, err := DecodeSenML(pack(t, "99 2710 "+first+strings.Repeat(rec, 9999))); err != nil || len(rs) != 10000 {
		t.Errorf("10,000 records: %d, %v", len(rs), err)
	}
	if _, err := DecodeSenML(pack(t, "99 2711 "+first+strings.Repeat(rec, 10000))); err == nil {
		t.Error("10,001 records accepted")
	}
	// The writer refuses what the reader refuses.
	if _, err := EncodeSenML([]reading.Reading{{Device: "a:b", Channel: "c", Value: 1, Time: t0}}); err == nil {
		t.Error("EncodeSenML accepted a device with ':'")
	}
}

// manyLabels returns n unknown labels 7, 8, ... with value 0, in hex.
func manyLabels(n int) string {
	var sb strings.Builder
	for i := range n {
		l := 7 + i
		if l < 24 {
			fmt.Fprintf(&sb, "%02x 00 ", l)
		} else {
			fmt.Fprintf(&sb, "18%02x 00 ", l)
		}
	}
	return sb.String()
}

// rawHeader encodes header fields without validating them.
func rawHeader(t *testing.T, w wireHeader) []byte {
	t.Helper()
	b, err := encMode.Marshal(&w)
	must.NoError(t, err)
	return b
}

// TestHeaderDecisions checks the reason of each header and structure fault
// docs/envelope.md lists, on envelopes a gateway could sign.
func TestHeaderDecisions(t *testing.T) {
	id := testIdentity(t, "gw-1", 1)
	rk := testRecipient(t, keys.SuiteX25519, 2)
	_, _, validTrailer, _ := seal(t, id, rk.Public(), 1, [][]reading.Reading{meterPoll("m", 0)})
	kid, enc := rk.KID(), make([]byte, 32)
	sealed := func(mod func(*wireHeader)) []byte {
		w := wireHeader{Version: 1, GatewayID: "gw-1", Seq: 1, Class: "telemetry", ConfigVersion: 1, Suite: 1, RecipientKID: kid, Enc: enc, Created: t0.Unix()}
		mod(&w)
		return Marshal(rawHeader(t, w), [][]byte{{1}}, validTrailer)
	}
	record := func(class string, chunks [][]byte) []byte {
		h, err := RecordHeader("gw-1", class, 5, 1, t0)
		must.NoError(t, err)
		tr, err := Sign(id, h, chunks)
		must.NoError(t, err)
		return Marshal(h, chunks, tr)
	}
	gapChunk, err := GapChunks(Gap{FromSeq: 1, ToSeq: 4, Batches: 4, Readings: 40, Reason: "max-bytes"})
	must.NoError(t, err)
	if _, err := Parse(sealed(func(*wireHeader) {})); err != nil {
		t.Fatalf("the unmodified header: %v", err)
	}
	if _, err := Parse(record(GapClass, gapChunk)); err != nil {
		t.Fatalf("a gap record with one chunk: %v", err)
	}
	tests := []struct {
		name string
		wire []byte
	}{
		{"unknown suite 3", sealed(func(w *wireHeader) { w.Suite = 3 })},
		{"suite above 255", sealed(func(w *wireHeader) { w.Suite = 256 })},
		{"enc of 31 bytes", sealed(func(w *wireHeader) { w.Enc = enc[:31] })},
		{"enc of an mlkem768x25519 size with suite x25519", sealed(func(w *wireHeader) { w.Enc = make([]byte, 1120) })},
		{"recipient key id of 7 bytes", sealed(func(w *wireHeader) { w.RecipientKID = kid[:7] })},
		{"suite none with class telemetry", sealed(func(w *wireHeader) { w.Suite, w.RecipientKID, w.Enc = 0, nil, nil })},
		{"suite x25519 with class gap", sealed(func(w *wireHeader) { w.Class = GapClass })},
		{"suite x25519 with class audit", sealed(func(w *wireHeader) { w.Class = AuditClass })},
		{"sequence number 0", sealed(func(w *wireHeader) { w.Seq = 0 })},
		{"gateway id not ASCII", sealed(func(w *wireHeader) { w.GatewayID = "gw-é" })},
		{"gateway id with a space", sealed(func(w *wireHeader) { w.GatewayID = "gw 1" })},
		{"gateway id with a '+'", sealed(func(w *wireHeader) { w.GatewayID = "gw+1" })},
		{"gateway id of 129 bytes", sealed(func(w *wireHeader) { w.GatewayID = strings.Repeat("g", 129) })},
		{"class with a '/'", sealed(func(w *wireHeader) { w.Class = "a/b" })},
		{"gap record with two chunks", record(GapClass, [][]byte{gapChunk[0], gapChunk[0]})},
		{"gap record with no chunk", record(GapClass, nil)},
		{"audit record with two chunks", record(AuditClass, [][]byte{[]byte("{}"), []byte("{}")})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.wire); reason(err) != ReasonMalformed {
				t.Fatalf("err = %v, want %s", err, ReasonMalformed)
			}
		})
	}
	// Printable: every visible ASCII character but / + # is allowed.
	h, err := RecordHeader("Gw!\"$%&'()*,-.:;<=>?@[\\]^_`{|}~9", AuditClass, 1, 1, t0)
	must.NoError(t, err)
	if _, err := ParseHeader(h); err != nil {
		t.Fatal(err)
	}
}

// TestBatchDecisions checks the content rules of docs/envelope.md that
// concern whole batches: a sealed batch without chunks, gap reasons and audit
// records.
func TestBatchDecisions(t *testing.T) {
	id := testIdentity(t, "gw-1", 1)
	trust := NewTrust(id.Public())
	rk := testRecipient(t, keys.SuiteX25519, 2)
	verified := func(t *testing.T, wire []byte) *Envelope {
		e, err := Parse(wire)
		if err == nil {
			err = e.Verify(trust)
		}
		must.NoError(t, err)
		return e
	}
	t.Run("sealed batch without chunks", func(t *testing.T) {
		e := verified(t, sealRaw(t, id, rk.Public(), 4))
		if rs, err := e.Open(rk); err != nil || len(rs) != 0 {
			t.Fatalf("Open = %v, %v; want no readings", rs, err)
		}
		if _, err := e.Open(testRecipient(t, keys.SuiteX25519, 3)); reason(err) != ReasonNoRecipientKey {
			t.Fatalf("without its key: %v, want %s", err, ReasonNoRecipientKey)
		}
	})
	gap := func(t *testing.T, g Gap) (Gap, error) {
		h, err := GapHeader("gw-1", 20, 1, t0)
		must.NoError(t, err)
		c, err := encMode.Marshal(&wireGap{FromSeq: g.FromSeq, ToSeq: g.ToSeq, Batches: g.Batches, Readings: g.Readings, Reason: g.Reason})
		must.NoError(t, err)
		tr, err := Sign(id, h, [][]byte{c})
		must.NoError(t, err)
		return verified(t, Marshal(h, [][]byte{c}, tr)).Gap()
	}
	for _, r := range []string{"max-bytes", "max-age", "corrupt-buffer", "missing-buffer", "disk-full", "damaged", "max-bytes,max-age", "buffer-full", "a reason of a later version", strings.Repeat("r", 256)} {
		if g, err := gap(t, Gap{FromSeq: 3, ToSeq: 9, Batches: 7, Readings: 70, Reason: r}); err != nil || g.Reason != r {
			t.Errorf("gap reason %q: %v", r, err)
		}
	}
	for name, g := range map[string]Gap{
		"reason of 257 bytes": {FromSeq: 3, ToSeq: 3, Reason: strings.Repeat("r", 257)},
		"empty reason":        {FromSeq: 3, ToSeq: 3},
		"reason not UTF-8":    {FromSeq: 3, ToSeq: 3, Reason: "\xff"},
		"from after to":       {FromSeq: 4, ToSeq: 3, Reason: "max-age"},
	} {
		if _, err := gap(t, g); reason(err) != ReasonBadSenML {
			t.Errorf("gap %s: %v, want %s", name, err, ReasonBadSenML)
		}
	}
	audit := func(t *testing.T, record string) error {
		h, err := RecordHeader("gw-1", AuditClass, 21, 1, t0)
		must.NoError(t, err)
		tr, err := Sign(id, h, [][]byte{[]byte(record)})
		must.NoError(t, err)
		_, err = verified(t, Marshal(h, [][]byte{[]byte(record)}, tr)).Audit()
		return err
	}
	for _, ok := range []string{`{}`, ` {"action":"x","args":{"a":"1"},"later":[{"a":1},{"a":2}]} `, `{"a":"\u00e9"}`} {
		if err := audit(t, ok); err != nil {
			t.Errorf("audit %s: %v", ok, err)
		}
	}
	for _, bad := range []string{``, `[1]`, `"x"`, `{"a":1}{}`, `{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"args":{"d":"1","d":"2"}}`, "{\"a\":\"\xff\"}", `{"a":}`} {
		if err := audit(t, bad); reason(err) != ReasonMalformed {
			t.Errorf("audit %q: %v, want %s", bad, err, ReasonMalformed)
		}
	}
}

// TestTopicDecisions checks where each kind of batch must arrive.
func TestTopicDecisions(t *testing.T) {
	h := func(class string) *Header { return &Header{GatewayID: "gw-1", Class: class} }
	for _, tc := range []struct {
		topic, class string
		ok           bool
	}{
		{"", "telemetry", true},
		{"city/gw-1/data/telemetry", "telemetry", true},
		{"a/b/c/gw-1/data/telemetry", "telemetry", true},
		{"city/gw-1/data/gap", GapClass, true},
		{"city/gw-1/audit", AuditClass, true},
		{"gw-1/data/telemetry", "telemetry", false},
		{"gw-1/audit", AuditClass, false},
		{"city/gw-1/data/audit", AuditClass, false},
		{"city/gw-1/audit", GapClass, false},
		{"city/gw-2/data/telemetry", "telemetry", false},
		{"city/gw-1/data/personal", "telemetry", false},
		{"city/gw-1/data/telemetry/x", "telemetry", false},
	} {
		err := CheckTopic(tc.topic, h(tc.class))
		if tc.ok != (err == nil) || !tc.ok && reason(err) != ReasonTopicMismatch {
			t.Errorf("class %s on %q: %v", tc.class, tc.topic, err)
		}
	}
}

// TestManifestDecisions checks that a manifest must have exactly the form
// SignManifest writes.
func TestManifestDecisions(t *testing.T) {
	id := testIdentity(t, "gw-1", 1)
	trust := NewTrust(id.Public())
	kid := id.Public().KID()
	signed := func(payload []byte) []byte {
		sig := ed25519.Sign(id.Key, sigStructureOf(kid, payload))
		return sign1.Encode(kid, payload, sig)
	}
	payload := func(t *testing.T, ranges any) []byte {
		b, err := encMode.Marshal([]any{ManifestContext, "gw-1", t0.Unix(), ranges, uint64(2), uint64(20)})
		must.NoError(t, err)
		return b
	}
	if _, err := OpenManifest(signed(payload(t, [][2]uint64{{1, 2}})), trust); err != nil {
		t.Fatalf("manifest as specified: %v", err)
	}
	nonShortest := payload(t, [][2]uint64{{1, 2}})
	nonShortest = bytes.Replace(nonShortest, []byte{0x82, 0x01, 0x02}, []byte{0x82, 0x18, 0x01, 0x02}, 1)
	long := signed(payload(t, [][2]uint64{{1, 2}}))
	long = append([]byte{0xd2, 0x84, 0x58, 0x0d}, long[3:]...) // protected header length in two bytes
	for name, data := range map[string][]byte{
		"no ranges":                 signed(payload(t, [][2]uint64{})),
		"ranges null":               signed(payload(t, nil)),
		"ranges overlapping":        signed(payload(t, [][2]uint64{{1, 5}, {5, 6}})),
		"range with three numbers":  signed(payload(t, [][]uint64{{1, 2, 3}})),
		"payload not deterministic": signed(nonShortest),
		"COSE not deterministic":    long,
		"payload detached":          sign1.Encode(kid, nil, ed25519.Sign(id.Key, sigStructureOf(kid, nil))),
	} {
		if _, err := OpenManifest(data, trust); reason(err) != ReasonMalformed {
			t.Errorf("%s: %v, want %s", name, err, ReasonMalformed)
		}
	}
	if _, err := OpenManifest(signed(payload(t, [][2]uint64{{1, 2}, {3, 3}})), trust); err != nil {
		t.Errorf("adjacent ranges: %v", err)
	}
}

// sigStructureOf returns the Sig_structure of a payload (nil: empty).
func sigStructureOf(kid, payload []byte) []byte {
	if payload == nil {
		payload = []byte{}
	}
	return sigStructure(kid, payload)
}

// TestCheckDeterministicAgainstReference compares checkDeterministic with
// fxamacker's core deterministic encoder on random nested values: the
// deterministic encoding of a value is accepted, and any other encoding of it
// (unsorted keys, floats as float64, lengths and integers in long heads) is
// rejected.
func TestCheckDeterministicAgainstReference(t *testing.T) {
	det, err := cbor.CoreDetEncOptions().EncMode()
	must.NoError(t, err)
	loose, err := cbor.EncOptions{Sort: cbor.SortNone, ShortestFloat: cbor.ShortestFloatNone}.EncMode()
	must.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	var value func(depth int) any
	value = func(depth int) any {
		switch k := rng.IntN(8); {
		case k == 0:
			return rng.Int64N(1<<40) - 1<<39
		case k == 1:
			return rng.Uint64() >> rng.UintN(64)
		case k == 2:
			return []float64{0.5, 230.1, float64(float32(230.1)), 65504, 1e300, math.Copysign(0, -1), 5.960464477539063e-08}[rng.IntN(7)]
		case k == 3:
			return strings.Repeat("x", rng.IntN(30))
		case k < 6 && depth < 4:
			m := map[any]any{}
			for range rng.IntN(6) {
				if rng.IntN(2) == 0 {
					m[rng.Int64N(600)-300] = value(depth + 1)
				} else {
					m[strings.Repeat("k", 1+rng.IntN(4))] = value(depth + 1)
				}
			}
			return m
		case depth < 4:
			a := make([]any, rng.IntN(30))
			for i := range a {
				a[i] = value(depth + 1)
			}
			return a
		}
		return true
	}
	rejected := 0
	for i := range 2000 {
		v := value(0)
		d, err := det.Marshal(v)
		must.NoError(t, err)
		if err := checkDeterministic(d); err != nil {
			t.Fatalf("value %d: deterministic encoding %x rejected: %v", i, d, err)
		}
		l, err := loose.Marshal(v)
		must.NoError(t, err)
		if !bytes.Equal(l, d) {
			if err := checkDeterministic(l); err == nil {
				t.Fatalf("value %d: %x accepted, its deterministic encoding is %x", i, l, d)
			}
			rejected++
		}
	}
	t.Logf("%d of 2000 loose encodings differed from the deterministic one, all rejected", rejected)
	if rejected < 500 {
		t.Fatalf("only %d of 2000 loose encodings differed: the test does not exercise the check", rejected)
	}
	// Long heads, which no encoder writes.
	for _, b := range []string{"1817", "190017", "1a00000017", "1b0000000000000017", "7801 61", "98 00", "b8 00", "f8 00", "f8 1f", "fb 3ff8000000000000", "fa 3fc00000", "1c", "ff"} {
		if err := checkDeterministic(pack(t, b)); err == nil {
			t.Errorf("%s accepted", b)
		}
	}
}

// TestSpecTables checks the tables of stable names and numbers in
// docs/envelope.md against the code: rejection reasons, flags and suites.
func TestSpecTables(t *testing.T) {
	var reasons []string
	for _, row := range envelopetest.Table(t, docPath, "reason", "meaning") {
		reasons = append(reasons, row[0])
	}
	want := []string{ReasonMalformed, ReasonUnsupportedVersion, ReasonTopicMismatch, ReasonUntrustedGateway,
		ReasonBadSignature, ReasonNoRecipientKey, ReasonDecryptFailed, ReasonBadSenML}
	if !slices.Equal(reasons, want) {
		t.Errorf("reason table %q, code %q", reasons, want)
	}

	flags := envelopetest.Table(t, docPath, "bit", "value", "name", "meaning")
	for i, row := range flags {
		f := reading.Flags(1) << i
		if row[0] != strconv.Itoa(i) || row[1] != strconv.Itoa(int(f)) || !slices.Equal(f.Names(), []string{row[2]}) {
			t.Errorf("flag row %q: the code names bit %d (value %d) %q", row, i, f, f.Names())
		}
	}
	if names := (reading.Flags(1) << len(flags)).Names(); !slices.Equal(names, []string{"unknown"}) {
		t.Errorf("bit %d has a name in the code (%q) but not in the table", len(flags), names)
	}

	suites := envelopetest.Table(t, docPath, "suite", "name", "KEM", "KDF", "AEAD", "enc size")
	for i, row := range suites {
		s := keys.Suite(i)
		if row[0] != strconv.Itoa(i) || row[1] != s.String() || row[5] != strconv.Itoa(s.EncSize()) {
			t.Errorf("suite row %q: the code has suite %d %q, enc size %d", row, i, s, s.EncSize())
		}
		if s.Encrypted() && (!strings.HasSuffix(row[2], fmt.Sprintf("0x%04x", s.KEM().ID())) ||
			!strings.HasSuffix(row[3], fmt.Sprintf("0x%04x", s.KDF().ID())) || !strings.HasSuffix(row[4], fmt.Sprintf("0x%04x", s.AEAD().ID()))) {
			t.Errorf("suite row %q: the code's KEM, KDF and AEAD ids are %#04x %#04x %#04x", row, s.KEM().ID(), s.KDF().ID(), s.AEAD().ID())
		}
	}
	if s := keys.Suite(len(suites)); s.Encrypted() || s.String() != fmt.Sprintf("suite(%d)", len(suites)) {
		t.Errorf("suite %d is known to the code (%s) but not in the table", len(suites), s)
	}
}
