package envelope

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/edgegw/edgegw/crypto/internal/detcbor"
	"github.com/edgegw/edgegw/crypto/internal/sign1"

	"github.com/veraison/go-cose"

	"github.com/edgegw/edgegw/crypto/keys"
)

// signatureSize is the size of an Ed25519 signature.
const signatureSize = ed25519.SignatureSize

// Sign returns the trailer of a batch: a tagged COSE_Sign1 (RFC 9052) with
// protected header {alg: EdDSA, kid: the identity's KID}, an empty unprotected
// header and a detached payload, signed by id over the CBOR array
// [SignContext, header_hash, chain, n_chunks]. It is stateless: it needs only
// the stored header and chunk bytes, so a batch left open by a crash can be
// closed after restart. The header's gateway id must be id.ID.
func Sign(id *keys.Identity, header []byte, chunks [][]byte) ([]byte, error) {
	if id == nil || len(id.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("sign batch: no identity key")
	}
	h, err := ParseHeader(header)
	if err != nil {
		return nil, fmt.Errorf("sign batch: %w", err)
	}
	if h.GatewayID != id.ID {
		return nil, fmt.Errorf("sign batch: header gateway id %q is not identity %q", h.GatewayID, id.ID)
	}
	if len(chunks) > maxChunks {
		return nil, fmt.Errorf("sign batch: %d chunks, more than %d", len(chunks), maxChunks)
	}
	t, err := sign1.Sign(id.Key, id.Public().KID(), signedPayload(header, chunks), true)
	if err != nil {
		return nil, fmt.Errorf("sign batch: %w", err)
	}
	return t, nil
}

// chain returns chain_n: chain_0 = header_hash, chain_{i+1} = SHA-256(chain_i || chunk_i).
func chain(hh [32]byte, chunks [][]byte) [32]byte {
	c := hh
	for _, ch := range chunks {
		d := sha256.New()
		d.Write(c[:])
		d.Write(ch)
		d.Sum(c[:0])
	}
	return c
}

// signedPayload returns the detached COSE payload of a batch:
// [SignContext, header_hash bstr, chain bstr, n_chunks uint].
func signedPayload(header []byte, chunks [][]byte) []byte {
	hh := headerHash(header)
	c := chain(hh, chunks)
	b := make([]byte, 0, 96)
	b = detcbor.AppendHead(b, majorArray, 4)
	b = appendText(b, SignContext)
	b = detcbor.AppendBytes(b, hh[:])
	b = detcbor.AppendBytes(b, c[:])
	return detcbor.AppendHead(b, majorUint, uint64(len(chunks)))
}

// parseSign1 decodes a tagged COSE_Sign1 with go-cose and requires it to be
// exactly sign1.Encode of its key id (8 bytes), payload and signature (64
// bytes). It returns the message and the key id.
func parseSign1(b []byte) (*cose.Sign1Message, []byte, error) {
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(b); err != nil {
		return nil, nil, err
	}
	kid, _ := msg.Headers.Protected[cose.HeaderLabelKeyID].([]byte)
	if len(kid) != keys.KIDSize || len(msg.Signature) != signatureSize || !bytes.Equal(b, sign1.Encode(kid, msg.Payload, msg.Signature)) {
		return nil, nil, errors.New("not 18([{1: -8, 4: 8-byte kid}, {}, payload, 64-byte signature]) in deterministic encoding")
	}
	return &msg, kid, nil
}

// parseTrailer decodes a trailer: a COSE_Sign1 in the form of parseSign1 with
// a detached payload. It returns the message and key id.
func parseTrailer(t []byte) (*cose.Sign1Message, []byte, error) {
	msg, kid, err := parseSign1(t)
	if err != nil {
		return nil, nil, fmt.Errorf("trailer: %w", err)
	}
	if msg.Payload != nil {
		return nil, nil, errors.New("trailer: payload is not detached")
	}
	return msg, kid, nil
}
