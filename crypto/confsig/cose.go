package confsig

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"math"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/edgegw/edgegw/crypto/internal/detcbor"
	"github.com/edgegw/edgegw/crypto/keys"
)

// MaxConfigSize is the largest configuration, in bytes, a document carries:
// the largest file gateway/config parses.
const MaxConfigSize = 1 << 20

// MaxDocumentSize is the largest document, in bytes, Verify and VerifyTrust
// accept: a maximal configuration plus a maximal list target and headers.
const MaxDocumentSize = MaxConfigSize + MaxTargetIDs*66 + 4096

// encMode is the deterministic (RFC 8949 core) CBOR encoder of payloads.
// Unlike detcbor.Enc it encodes a nil slice as null, as configuration
// documents have been signed since their first version.
var encMode = func() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// decMode decodes payloads strictly; callers also compare a re-encoding with
// the input to reject non-canonical forms.
var decMode = detcbor.Strict(detcbor.Limits{Nesting: 4, Array: MaxTargetIDs, MapPairs: 16})

// sign1 returns payload signed by key as a tagged COSE_Sign1 with protected
// header {alg: EdDSA, kid} and the payload attached, in canonical form.
func sign1(key *OpsKey, payload []byte) ([]byte, error) {
	if key == nil || len(key.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("no ops key")
	}
	signer, err := cose.NewSigner(cose.AlgorithmEdDSA, key.Key)
	if err != nil {
		return nil, err
	}
	kid := key.Public().KID()
	msg := cose.Sign1Message{
		Headers: cose.Headers{Protected: cose.ProtectedHeader{
			cose.HeaderLabelAlgorithm: cose.AlgorithmEdDSA,
			cose.HeaderLabelKeyID:     kid[:],
		}},
		Payload: payload,
	}
	// Ed25519 is deterministic: the random source is not used.
	if err := msg.Sign(nil, nil, signer); err != nil {
		return nil, err
	}
	b, err := msg.MarshalCBOR()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(b, encodeSign1(kid[:], payload, msg.Signature)) {
		return nil, errors.New("COSE encoding is not canonical")
	}
	return b, nil
}

// open1 parses a document in the canonical form of encodeSign1, checks that
// its key is in trust and that the signature verifies, and returns the
// payload and key id. Errors are *RejectError (malformed, untrusted-key,
// bad-signature).
func open1(doc []byte, trust OpsTrust) ([]byte, KID, error) {
	if len(doc) > MaxDocumentSize {
		return nil, KID{}, reject(ReasonMalformed, "document is %d bytes, more than %d", len(doc), MaxDocumentSize)
	}
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(doc); err != nil {
		return nil, KID{}, reject(ReasonMalformed, "not a COSE_Sign1 document: %w", err)
	}
	if len(msg.Headers.Protected) != 2 || len(msg.Headers.Unprotected) != 0 {
		return nil, KID{}, reject(ReasonMalformed, "unexpected COSE header parameters")
	}
	if alg, err := msg.Headers.Protected.Algorithm(); err != nil || alg != cose.AlgorithmEdDSA {
		return nil, KID{}, reject(ReasonMalformed, "algorithm is not EdDSA")
	}
	kidb, ok := msg.Headers.Protected[cose.HeaderLabelKeyID].([]byte)
	if !ok || len(kidb) != keys.KIDSize {
		return nil, KID{}, reject(ReasonMalformed, "no 8-byte key id")
	}
	if msg.Payload == nil {
		return nil, KID{}, reject(ReasonMalformed, "payload is detached")
	}
	if len(msg.Signature) != ed25519.SignatureSize {
		return nil, KID{}, reject(ReasonMalformed, "signature is %d bytes, want %d", len(msg.Signature), ed25519.SignatureSize)
	}
	if !bytes.Equal(doc, encodeSign1(kidb, msg.Payload, msg.Signature)) {
		return nil, KID{}, reject(ReasonMalformed, "COSE_Sign1 not in canonical form")
	}
	kid := KID(kidb)
	pub, ok := trust[kid]
	if !ok {
		return nil, kid, reject(ReasonUntrustedKey, "signed by key %s, which is not pinned", kid)
	}
	v, err := cose.NewVerifier(cose.AlgorithmEdDSA, pub.Key)
	if err == nil {
		err = msg.Verify(nil, v)
	}
	if err != nil {
		return nil, kid, reject(ReasonBadSignature, "key %s: %w", kid, err)
	}
	return msg.Payload, kid, nil
}

// payload is a document's decoded payload: each kind starts with its
// context string.
type payload interface{ context() string }

func (w *wireConfig) context() string { return w.Context }
func (w *wireTrust) context() string  { return w.Context }

// openPayload opens doc with open1 and decodes its payload into w, which
// must be canonical and carry the context want; what names the kind of
// document in the error.
func openPayload(doc []byte, trust OpsTrust, w payload, want, what string) (KID, error) {
	p, kid, err := open1(doc, trust)
	if err != nil {
		return kid, err
	}
	if err := decodeCanonical(p, w); err != nil || w.context() != want {
		return kid, reject(ReasonMalformed, "payload is not an edgegw %s v1 document", what)
	}
	return kid, nil
}

// encodeSign1 returns the canonical document:
// 18([bstr {1: -8, 4: kid}, {}, bstr payload, bstr sig]).
func encodeSign1(kid, payload, sig []byte) []byte {
	prot := appendBytes([]byte{0xa2, 0x01, 0x27, 0x04}, kid)
	b := make([]byte, 0, len(payload)+len(prot)+len(sig)+16)
	b = append(b, 0xd2, 0x84)
	b = appendBytes(b, prot)
	b = append(b, 0xa0)
	b = appendBytes(b, payload)
	return appendBytes(b, sig)
}

// appendBytes appends a CBOR byte string with its head in shortest form.
func appendBytes(b, p []byte) []byte {
	const m = 2 << 5
	switch n := uint64(len(p)); {
	case n < 24:
		b = append(b, m|byte(n))
	case n <= math.MaxUint8:
		b = append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		b = binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, m|27), n)
	}
	return append(b, p...)
}

// decodeCanonical decodes payload into v strictly and checks that
// re-encoding v gives payload back.
func decodeCanonical(payload []byte, v any) error {
	return detcbor.Decode(decMode, encMode, payload, v)
}
