// Package sign1 writes the one form of COSE_Sign1 (RFC 9052) that edgegw
// signs with and accepts: 18([protected {1 (alg): -8 (EdDSA), 4 (kid): kid},
// {}, payload, signature]), in deterministic CBOR. Batch trailers, export
// manifests, receipts and fleet documents all use it.
package sign1

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"math"

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
	b = appendBytes(b, ProtectedHeader(kid))
	b = append(b, 0xa0)
	if payload == nil {
		b = append(b, 0xf6)
	} else {
		b = appendBytes(b, payload)
	}
	return appendBytes(b, sig)
}

// ProtectedHeader returns the serialized protected header {1: -8, 4: kid}.
func ProtectedHeader(kid []byte) []byte {
	return appendBytes([]byte{0xa2, 0x01, 0x27, 0x04}, kid)
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
