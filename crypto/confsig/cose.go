package confsig

import (
	"bytes"
	"crypto/ed25519"
	"errors"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/edgegw/edgegw/crypto/internal/detcbor"
	"github.com/edgegw/edgegw/crypto/internal/sign1"
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

// signDoc returns payload signed by key as a document: a tagged COSE_Sign1
// with the payload attached, in the form of package sign1.
func signDoc(key *OpsKey, payload []byte) ([]byte, error) {
	if key == nil || len(key.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("no ops key")
	}
	kid := key.Public().KID()
	return sign1.Sign(key.Key, kid[:], payload, false)
}

// open1 parses a document in the canonical form of sign1.Encode, checks that
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
	if !bytes.Equal(doc, sign1.Encode(kidb, msg.Payload, msg.Signature)) {
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

// decodeCanonical decodes payload into v strictly and checks that
// re-encoding v gives payload back.
func decodeCanonical(payload []byte, v any) error {
	return detcbor.Decode(decMode, encMode, payload, v)
}
