package envelope

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/edgegw/edgegw/crypto/envelope/envelopetest"
	"github.com/edgegw/edgegw/crypto/internal/detcbor"
	"github.com/edgegw/edgegw/crypto/internal/sign1"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/mqtt/topic"
)

var update = flag.Bool("update", false, "rewrite the test vectors in docs/envelope.md")

// docPath is the specification, whose vectors the tests check.
const docPath = "../../docs/envelope.md"

// vectorSpec is the input of one test vector.
type vectorSpec struct {
	name      string
	suite     keys.Suite
	randSeed  uint64 // testing/cryptotest.SetGlobalRandom seed
	idSeed    []byte // Ed25519 seed
	gatewayID string
	ikm       []byte // recipient KEM.DeriveKeyPair input
	seq       uint64
	class     string
	config    uint64
	created   time.Time
	polls     [][]reading.Reading
	gap       *Gap
	audit     string    // the JSON object of an audit record
	manifest  *Manifest // an export manifest instead of an envelope
}

func seq32(start byte) []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// vectorTopicPrefix is the topic prefix of the vectors.
const vectorTopicPrefix = "city"

func vectorSpecs() []vectorSpec {
	ts := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	return []vectorSpec{
		{
			name: "x25519", suite: keys.SuiteX25519, randSeed: 1, idSeed: seq32(0x00), gatewayID: "gw-0001",
			ikm: seq32(0x20), seq: 1, class: "telemetry", config: 3, created: ts,
			polls: [][]reading.Reading{
				{
					{Device: "aq-1", Channel: "pm25", Value: 12.5, Unit: reading.MicrogramM, Time: ts},
					{Device: "aq-1", Channel: "pm10", Value: 20.25, Unit: reading.MicrogramM, Time: ts},
					{Device: "aq-1", Channel: "temp", Value: float64(float32(21.7)), Unit: reading.Celsius, Time: ts.Add(250 * ms), Flags: reading.Stuck},
				},
				{
					{Device: "meter-1", Channel: "v1", Value: float64(float32(230.1)), Unit: reading.Volt, Time: ts.Add(10*time.Second + 125*ms)},
					{Device: "meter-1", Channel: "i1", Unit: reading.Ampere, Time: ts.Add(10*time.Second + 125*ms), Flags: reading.ReadError},
					{Device: "meter-1", Channel: "e", Value: 123456.75, Unit: reading.KWh, Time: ts.Add(10*time.Second + 125*ms), Flags: reading.CounterWentBack},
				},
			},
		},
		{
			name: "mlkem768x25519", suite: keys.SuiteMLKEM768X25519, randSeed: 2, idSeed: seq32(0x00), gatewayID: "gw-0001",
			ikm: seq32(0x40), seq: 2, class: "personal", config: 3, created: ts.Add(time.Minute),
			polls: [][]reading.Reading{{
				{Device: "counter-1", Channel: "people", Value: 17, Unit: "", Time: ts.Add(time.Minute)},
			}},
		},
		{
			name: "gap", suite: keys.SuiteNone, idSeed: seq32(0x00), gatewayID: "gw-0001",
			seq: 5, class: GapClass, config: 3, created: ts.Add(2 * time.Minute),
			gap: &Gap{FromSeq: 3, ToSeq: 4, Batches: 2, Readings: 240, Reason: "max-bytes,max-age"},
		},
		{
			name: "audit", suite: keys.SuiteNone, idSeed: seq32(0x00), gatewayID: "gw-0001",
			seq: 6, class: AuditClass, config: 3, created: ts.Add(3 * time.Minute),
			audit: `{"time":"2025-06-01T12:03:00Z","uid":1000,"gid":1000,"pid":4242,"process":"edgegw","role":"technician","action":"device.disable","args":{"device":"aq-1"},"result":"ok"}`,
		},
		{
			name: "manifest", idSeed: seq32(0x00), gatewayID: "gw-0001",
			manifest: &Manifest{Gateway: "gw-0001", Created: ts.Add(4 * time.Minute), Ranges: [][2]uint64{{1, 2}, {5, 6}}, Batches: 4, Readings: 7},
		},
	}
}

// openRecord is the JSON line `edgegw open` prints for a reading
// (backend.Record), as docs/envelope.md specifies it.
type openRecord struct {
	Kind    string          `json:"kind"`
	Gateway string          `json:"gateway"`
	Seq     uint64          `json:"seq"`
	Device  string          `json:"device"`
	Channel string          `json:"channel"`
	Value   *reading.Number `json:"value"`
	Unit    string          `json:"unit"`
	Time    string          `json:"time"`
	Class   string          `json:"class"`
	Flags   []string        `json:"flags"`
}

// openLines returns the lines `edgegw open` prints for readings of batch h.
func openLines(t testing.TB, h *Header, rs []reading.Reading) []string {
	var out []string
	for _, r := range rs {
		rec := openRecord{Kind: "reading", Gateway: h.GatewayID, Seq: h.Seq, Device: r.Device, Channel: r.Channel, Unit: string(r.Unit),
			Time: r.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"), Class: h.Class, Flags: r.Flags.Names()}
		if r.Flags&reading.ReadError == 0 {
			v := reading.Number(r.Value)
			rec.Value = &v
		}
		j, err := json.Marshal(rec)
		must.NoError(t, err)
		out = append(out, string(j))
	}
	return out
}

// topicOf returns the topic a batch of class is published on.
func topicOf(gatewayID, class string) string {
	return topic.Batch(vectorTopicPrefix, gatewayID, class)
}

// generate builds the vector of spec with fixed randomness.
func generate(t *testing.T, sp vectorSpec) *envelopetest.Vector {
	cryptotest.SetGlobalRandom(t, sp.randSeed)
	id := &keys.Identity{ID: sp.gatewayID, Key: ed25519.NewKeyFromSeed(sp.idSeed)}
	v := &envelopetest.Vector{}
	v.Add("vector", sp.name)
	if sp.manifest == nil {
		v.Add("suite", fmt.Sprintf("%d (%s)", sp.suite, sp.suite))
	}
	v.Add("identity_seed", hex.EncodeToString(sp.idSeed))
	v.Add("identity_public", hex.EncodeToString(id.Public().Key))
	v.Add("identity_line", id.Public().String())
	v.Add("identity_kid", hex.EncodeToString(id.Public().KID()))
	if sp.manifest != nil {
		generateManifest(t, v, id, *sp.manifest)
		return v
	}
	v.Add("topic", topicOf(sp.gatewayID, sp.class))
	var header []byte
	var chunks [][]byte
	var err error
	switch {
	case sp.gap != nil:
		header, err = GapHeader(sp.gatewayID, sp.seq, sp.config, sp.created)
		must.NoError(t, err)
		chunks, err = GapChunks(*sp.gap)
		must.NoError(t, err)
		v.Add("gap", fmt.Sprintf("%d %d %d %d %s", sp.gap.FromSeq, sp.gap.ToSeq, sp.gap.Batches, sp.gap.Readings, sp.gap.Reason))
	case sp.audit != "":
		header, err = RecordHeader(sp.gatewayID, AuditClass, sp.seq, sp.config, sp.created)
		must.NoError(t, err)
		chunks = [][]byte{[]byte(sp.audit)}
		v.Add("audit", sp.audit)
	default:
		k, err := sp.suite.KEM().DeriveKeyPair(sp.ikm)
		must.NoError(t, err)
		rk, err := keys.NewRecipientPrivate(sp.suite, k)
		must.NoError(t, err)
		kb, err := k.Bytes()
		must.NoError(t, err)
		v.Add("recipient_ikm", hex.EncodeToString(sp.ikm))
		v.Add("recipient_private", hex.EncodeToString(kb))
		v.Add("recipient_public", hex.EncodeToString(k.PublicKey().Bytes()))
		v.Add("recipient_kid", hex.EncodeToString(rk.KID()))
		v.Add("random_seed", strconv.FormatUint(sp.randSeed, 10))
		b, err := NewBatch(rk.Public(), sp.gatewayID, sp.class, sp.config, sp.created)
		must.NoError(t, err)
		header, err = b.Header(sp.seq)
		must.NoError(t, err)
		h, err := ParseHeader(header)
		must.NoError(t, err)
		for _, line := range openLines(t, h, flatten(sp.polls)) {
			v.Add("reading", line)
		}
		hh := headerHash(header)
		for i, p := range sp.polls {
			pt, err := EncodeSenML(p)
			must.NoError(t, err)
			c, err := b.Seal(p)
			must.NoError(t, err)
			chunks = append(chunks, c)
			v.Add("plaintext", hex.EncodeToString(pt))
			v.Add("aad", hex.EncodeToString(chunkAAD(&hh, i)))
		}
		v.Add("kem_shared_secret", kemSharedSecret(t, sp.suite, sp.ikm, h.Enc))
	}
	hh := headerHash(header)
	v.Add("header", hex.EncodeToString(header))
	v.Add("header_hash", hex.EncodeToString(hh[:]))
	for _, c := range chunks {
		v.Add("chunk", hex.EncodeToString(c))
	}
	ch := chain(hh, chunks)
	v.Add("chain", hex.EncodeToString(ch[:]))
	payload := signedPayload(header, chunks)
	v.Add("signed_payload", hex.EncodeToString(payload))
	tbs := sigStructure(id.Public().KID(), payload)
	v.Add("sig_structure", hex.EncodeToString(tbs))
	tr, err := Sign(id, header, chunks)
	must.NoError(t, err)
	if !ed25519.Verify(id.Public().Key, tbs, tr[len(tr)-64:]) {
		t.Fatal("documented Sig_structure does not verify")
	}
	v.Add("trailer", hex.EncodeToString(tr))
	wire := Marshal(header, chunks, tr)
	v.Add("wire", hex.EncodeToString(wire))
	sum := sha256.Sum256(wire)
	v.Add("wire_sha256", hex.EncodeToString(sum[:]))
	return v
}

// sigStructure returns the COSE Sig_structure of docs/envelope.md, built
// independently of go-cose: ["Signature1", protected, empty bstr, payload].
func sigStructure(kid, payload []byte) []byte {
	tbs := append([]byte{0x84, 0x6a}, "Signature1"...)
	tbs = detcbor.AppendBytes(tbs, sign1.ProtectedHeader(kid))
	tbs = detcbor.AppendBytes(tbs, nil)
	return detcbor.AppendBytes(tbs, payload)
}

// generateManifest adds the lines of a signed export manifest to v.
func generateManifest(t *testing.T, v *envelopetest.Vector, id *keys.Identity, m Manifest) {
	v.Add("gateway", m.Gateway)
	v.Add("created", strconv.FormatInt(m.Created.Unix(), 10))
	v.Add("ranges", fmt.Sprint(m.Ranges))
	v.Add("batches", strconv.FormatUint(m.Batches, 10))
	v.Add("readings", strconv.FormatUint(m.Readings, 10))
	signed, err := SignManifest(id, m)
	must.NoError(t, err)
	msg, _, err := parseSign1(signed)
	must.NoError(t, err)
	v.Add("payload", hex.EncodeToString(msg.Payload))
	tbs := sigStructure(id.Public().KID(), msg.Payload)
	v.Add("sig_structure", hex.EncodeToString(tbs))
	if !ed25519.Verify(id.Public().Key, tbs, msg.Signature) {
		t.Fatal("documented Sig_structure of the manifest does not verify")
	}
	v.Add("manifest", hex.EncodeToString(signed))
}

// TestVectors checks that the vectors documented in docs/envelope.md verify
// and open to the documented content, and that regenerating them with the
// same seeds reproduces the same bytes (-update rewrites them).
func TestVectors(t *testing.T) {
	var gen []*envelopetest.Vector
	for _, sp := range vectorSpecs() {
		gen = append(gen, generate(t, sp))
	}
	for _, v := range envelopetest.Sync(t, docPath, envelopetest.EnvelopeBegin, envelopetest.EnvelopeEnd, gen, *update) {
		t.Run(v.Name(), func(t *testing.T) {
			checkVector(t, v)
		})
	}
}

// checkVector verifies and opens a documented vector using only its
// documented inputs.
func checkVector(t *testing.T, v *envelopetest.Vector) {
	id := &keys.Identity{ID: "", Key: ed25519.NewKeyFromSeed(v.Hex(t, "identity_seed"))}
	pub, err := keys.ParsePublicIdentity(v.One(t, "identity_line"))
	must.NoError(t, err)
	if !pub.Key.Equal(id.Key.Public()) || !bytes.Equal(pub.KID(), v.Hex(t, "identity_kid")) {
		t.Fatal("identity line or kid does not match the seed")
	}
	if sum := sha256.Sum256(pub.Key); !bytes.Equal(sum[:8], pub.KID()) {
		t.Fatal("the identity key id is not as specified")
	}
	if v.Name() == "manifest" {
		checkManifestVector(t, v, pub)
		return
	}
	e, err := Parse(v.Hex(t, "wire"))
	must.NoError(t, err)
	must.NoError(t, CheckTopic(v.One(t, "topic"), &e.Header))
	must.NoError(t, e.Verify(NewTrust(pub)))
	if !bytes.Equal(e.RawHeader, v.Hex(t, "header")) || !bytes.Equal(e.Trailer, v.Hex(t, "trailer")) {
		t.Fatal("wire does not hold the documented header and trailer")
	}
	if len(e.Chunks) != len(v.All("chunk")) {
		t.Fatalf("%d chunks, %d documented", len(e.Chunks), len(v.All("chunk")))
	}
	for i, c := range v.All("chunk") {
		if hex.EncodeToString(e.Chunks[i]) != c {
			t.Fatalf("chunk %d differs", i)
		}
	}
	switch e.Header.Class {
	case GapClass:
		g, err := e.Gap()
		must.NoError(t, err)
		if s := fmt.Sprintf("%d %d %d %d %s", g.FromSeq, g.ToSeq, g.Batches, g.Readings, g.Reason); s != v.One(t, "gap") {
			t.Fatalf("gap %q, documented %q", s, v.One(t, "gap"))
		}
		return
	case AuditClass:
		a, err := e.Audit()
		if err != nil || string(a) != v.One(t, "audit") {
			t.Fatalf("audit %s, %v; documented %s", a, err, v.One(t, "audit"))
		}
		return
	}
	s := e.Header.Suite
	ikm := v.Hex(t, "recipient_ikm")
	checkSuiteAsSpecified(t, s, ikm, v.Hex(t, "recipient_private"), v.Hex(t, "recipient_public"),
		v.Hex(t, "recipient_kid"), e.Header.Enc, v.Hex(t, "kem_shared_secret"))
	k, err := s.KEM().DeriveKeyPair(ikm)
	must.NoError(t, err)
	rk, err := keys.NewRecipientPrivate(s, k)
	must.NoError(t, err)
	got, err := e.Open(rk)
	must.NoError(t, err)
	if lines, want := openLines(t, &e.Header, got), v.All("reading"); strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("opened:\n%s\ndocumented:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// checkManifestVector verifies the documented manifest.
func checkManifestVector(t *testing.T, v *envelopetest.Vector, pub keys.PublicIdentity) {
	m, err := OpenManifest(v.Hex(t, "manifest"), NewTrust(pub))
	must.NoError(t, err)
	got := []string{m.Gateway, strconv.FormatInt(m.Created.Unix(), 10), fmt.Sprint(m.Ranges), strconv.FormatUint(m.Batches, 10), strconv.FormatUint(m.Readings, 10)}
	want := []string{v.One(t, "gateway"), v.One(t, "created"), v.One(t, "ranges"), v.One(t, "batches"), v.One(t, "readings")}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("manifest %q, documented %q", got, want)
	}
}
