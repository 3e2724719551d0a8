package envelope

import (
	"bytes"
	"crypto/hpke"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/edgegw/edgegw/crypto/internal/detcbor"

	"github.com/veraison/go-cose"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
)

// Marshal returns the wire form of a batch: the CBOR array
// [header bstr, [chunk bstr, ...], trailer bstr].
func Marshal(header []byte, chunks [][]byte, trailer []byte) []byte {
	n := len(header) + len(trailer) + 32
	for _, c := range chunks {
		n += len(c) + 5
	}
	b := make([]byte, 0, n)
	b = detcbor.AppendHead(b, majorArray, 3)
	b = detcbor.AppendBytes(b, header)
	b = detcbor.AppendHead(b, majorArray, uint64(len(chunks)))
	for _, c := range chunks {
		b = detcbor.AppendBytes(b, c)
	}
	return detcbor.AppendBytes(b, trailer)
}

// Envelope is a parsed wire envelope. Parse checks its structure; Verify checks
// its signature; Open and Gap return its content once it is verified.
type Envelope struct {
	Header    Header   // decoded header
	RawHeader []byte   // header bytes as signed
	Chunks    [][]byte // chunk bytes (ciphertexts, or the gap record)
	Trailer   []byte   // COSE_Sign1 trailer

	msg      *cose.Sign1Message
	kid      []byte
	verified bool
}

// wireEnvelope is the CBOR array form of a wire envelope.
type wireEnvelope struct {
	_       struct{} `cbor:",toarray"`
	Header  []byte
	Chunks  [][]byte
	Trailer []byte
}

// Parse decodes a wire envelope strictly: at most MaxSize bytes and 100000
// chunks, canonical CBOR with no trailing bytes, a valid version 1 header and a
// canonical trailer. It does not verify the signature. Errors are *RejectError.
func Parse(wire []byte) (*Envelope, error) {
	if len(wire) > MaxSize {
		return nil, reject(ReasonMalformed, "%d bytes, more than %d", len(wire), MaxSize)
	}
	var w wireEnvelope
	if err := decMode.Unmarshal(wire, &w); err != nil {
		return nil, reject(ReasonMalformed, "%w", err)
	}
	if len(w.Chunks) > maxChunks {
		return nil, reject(ReasonMalformed, "%d chunks, more than %d", len(w.Chunks), maxChunks)
	}
	if !bytes.Equal(Marshal(w.Header, w.Chunks, w.Trailer), wire) {
		return nil, reject(ReasonMalformed, "not in canonical form")
	}
	h, err := ParseHeader(w.Header)
	if err != nil {
		return nil, err
	}
	msg, kid, err := parseTrailer(w.Trailer)
	if err != nil {
		return nil, reject(ReasonMalformed, "%w", err)
	}
	if h.Suite == keys.SuiteNone && len(w.Chunks) != 1 {
		return nil, reject(ReasonMalformed, "gap record with %d chunks, want 1", len(w.Chunks))
	}
	return &Envelope{Header: *h, RawHeader: w.Header, Chunks: w.Chunks, Trailer: w.Trailer, msg: msg, kid: kid}, nil
}

// Verify checks that the trailer is a valid signature, by the key trust pins
// for the header's gateway id, over the header and exactly these chunks in this
// order. Errors are *RejectError with reason untrusted-gateway or
// bad-signature.
func (e *Envelope) Verify(trust Trust) error {
	e.verified = false
	if e.msg == nil {
		return reject(ReasonMalformed, "envelope not parsed")
	}
	p, ok := trust[e.Header.GatewayID]
	if !ok {
		return reject(ReasonUntrustedGateway, "gateway %q is not trusted", e.Header.GatewayID)
	}
	if !bytes.Equal(e.kid, p.KID()) {
		return reject(ReasonUntrustedGateway, "gateway %q: signed by key %x, trusted key is %x", e.Header.GatewayID, e.kid, p.KID())
	}
	v, err := cose.NewVerifier(cose.AlgorithmEdDSA, p.Key)
	if err != nil {
		return reject(ReasonUntrustedGateway, "gateway %q: %w", e.Header.GatewayID, err)
	}
	msg := *e.msg
	msg.Payload = signedPayload(e.RawHeader, e.Chunks)
	if err := msg.Verify(nil, v); err != nil {
		return reject(ReasonBadSignature, "gateway %q seq %d: %w", e.Header.GatewayID, e.Header.Seq, err)
	}
	e.verified = true
	return nil
}

// errNotVerified is returned by Open and Gap before a successful Verify.
var errNotVerified = errors.New("envelope: not verified (call Verify first)")

// Open decrypts and decodes the readings of a verified sealed batch with the
// key among rks whose suite and key id match the header, opening the chunks in
// order with their associated data. It returns an error unless Verify
// succeeded. Errors about the content are *RejectError with reason
// no-recipient-key, decrypt-failed or bad-senml.
func (e *Envelope) Open(rks ...*keys.RecipientPrivate) ([]reading.Reading, error) {
	if !e.verified {
		return nil, errNotVerified
	}
	h := &e.Header
	if !h.Suite.Encrypted() {
		return nil, fmt.Errorf("envelope: suite %s is a gap record (use Gap)", h.Suite)
	}
	var k *keys.RecipientPrivate
	for _, c := range rks {
		if c != nil && c.Suite == h.Suite && bytes.Equal(c.KID(), h.RecipientKID) {
			k = c
			break
		}
	}
	if k == nil {
		return nil, reject(ReasonNoRecipientKey, "no key for suite %s key id %x", h.Suite, h.RecipientKID)
	}
	r, err := hpke.NewRecipient(h.Enc, k.Key, h.Suite.KDF(), h.Suite.AEAD(), []byte(HPKEInfo))
	if err != nil {
		return nil, reject(ReasonDecryptFailed, "%w", err)
	}
	hh := headerHash(e.RawHeader)
	var out []reading.Reading
	for i, c := range e.Chunks {
		pt, err := r.Open(chunkAAD(&hh, i), c)
		if err != nil {
			return nil, reject(ReasonDecryptFailed, "chunk %d: %w", i, err)
		}
		rs, err := DecodeSenML(pt)
		clear(pt)
		if err != nil {
			return nil, reject(ReasonBadSenML, "chunk %d: %w", i, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// Gap returns the gap record of a verified batch of suite none. It returns an
// error unless Verify succeeded.
func (e *Envelope) Gap() (Gap, error) {
	if !e.verified {
		return Gap{}, errNotVerified
	}
	if e.Header.Suite != keys.SuiteNone || e.Header.Class != GapClass || len(e.Chunks) != 1 {
		return Gap{}, fmt.Errorf("envelope: class %s suite %s is not a gap record", e.Header.Class, e.Header.Suite)
	}
	var w wireGap
	if err := decMode.Unmarshal(e.Chunks[0], &w); err != nil {
		return Gap{}, reject(ReasonBadSenML, "gap record: %w", err)
	}
	g := Gap{FromSeq: w.FromSeq, ToSeq: w.ToSeq, Batches: w.Batches, Readings: w.Readings, Reason: w.Reason}
	if err := g.check(); err != nil {
		return Gap{}, reject(ReasonBadSenML, "%w", err)
	}
	if re, err := GapChunks(g); err != nil || !bytes.Equal(re[0], e.Chunks[0]) {
		return Gap{}, reject(ReasonBadSenML, "gap record: not in canonical form")
	}
	return g, nil
}

// Audit returns the audit record of a verified batch of class AuditClass: one
// JSON object (RFC 8259) in UTF-8, with no member name repeated within an
// object, describing a privileged local action. Anything else is a
// *RejectError with reason malformed. It returns an error unless Verify
// succeeded.
func (e *Envelope) Audit() ([]byte, error) {
	if !e.verified {
		return nil, errNotVerified
	}
	if e.Header.Suite != keys.SuiteNone || e.Header.Class != AuditClass || len(e.Chunks) != 1 {
		return nil, fmt.Errorf("envelope: class %s suite %s is not an audit record", e.Header.Class, e.Header.Suite)
	}
	if err := checkAudit(e.Chunks[0]); err != nil {
		return nil, reject(ReasonMalformed, "audit record: %w", err)
	}
	return e.Chunks[0], nil
}

// checkAudit checks that b is one JSON object in UTF-8 whose objects, at any
// depth, have unique member names.
func checkAudit(b []byte) error {
	switch {
	case !utf8.Valid(b):
		return errors.New("not UTF-8")
	case !json.Valid(b):
		return errors.New("not JSON")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	return uniqueNames(d, true)
}

// uniqueNames reads the rest of the object (or array) whose opening delimiter
// d has just returned, failing on a member name repeated within one object.
// The input is known to be valid JSON.
func uniqueNames(d *json.Decoder, object bool) error {
	seen := map[string]bool{}
	for d.More() {
		if object {
			t, err := d.Token()
			if err != nil {
				return err
			}
			name, _ := t.(string)
			if seen[name] {
				return fmt.Errorf("member %q repeated", name)
			}
			seen[name] = true
		}
		t, err := d.Token()
		if err != nil {
			return err
		}
		if delim, ok := t.(json.Delim); ok {
			if err := uniqueNames(d, delim == '{'); err != nil {
				return err
			}
		}
	}
	_, err := d.Token() // the closing delimiter
	return err
}
