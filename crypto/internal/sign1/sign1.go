// Package sign1 writes the one form of COSE_Sign1 (RFC 9052) that edgegw
// signs with and accepts: 18([protected {1 (alg): -8 (EdDSA), 4 (kid): kid},
// {}, payload, signature]), in deterministic CBOR. Batch trailers, export
// manifests, receipts and fleet documents all use it.
package sign1

import (
	"bytes"
	"crypto/ed25519"
	"errors"

	"github.com/edgegw/edgegw/crypto/internal/detcbor"

	"github.com/veraison/go-cose"
)

// Sign returns payload signed by key under the key id kid, in the form of
// Encode. When detached, the payload is signed but left out of the message
// (nil), to travel beside it.
func Sign(key ed25519.PrivateKey, kid, payload []byte, detached bool) ([]byte, error) {
	signer, err := cose.NewSigner(cose.AlgorithmEdDSA, key)
	if err != nil {
		return nil, err
	}
	msg := cose.Sign1Message{
		Headers: cose.Headers{Protected: cose.ProtectedHeader{
			cose.HeaderLabelAlgorithm: cose.AlgorithmEdDSA,
			cose.HeaderLabelKeyID:     kid,
		}},
		Payload: payload,
	}
	// Ed25519 is deterministic: the random source is not used.
	if err := msg.Sign(nil, nil, signer); err != nil {
		return nil, err
	}
	if detached {
		msg.Payload = nil
	}
	b, err := msg.MarshalCBOR()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(b, Encode(kid, msg.Payload, msg.Signature)) {
		return nil, errors.New("COSE encoding is not canonical")
	}
	return b, nil
}

// Encode returns the canonical message of kid, payload and sig; a nil
// payload is detached (CBOR null).
func Encode(kid, payload, sig []byte) []byte {
	b := make([]byte, 0, 96+len(payload))
	b = append(b, 0xd2, 0x84)
	b = detcbor.AppendBytes(b, ProtectedHeader(kid))
	b = append(b, 0xa0)
	if payload == nil {
		b = append(b, 0xf6)
	} else {
		b = detcbor.AppendBytes(b, payload)
	}
	return detcbor.AppendBytes(b, sig)
}

// ProtectedHeader returns the serialized protected header {1: -8, 4: kid}.
func ProtectedHeader(kid []byte) []byte {
	return detcbor.AppendBytes([]byte{0xa2, 0x01, 0x27, 0x04}, kid)
}
