package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/edgegw/edgegw/crypto/internal/sign1"

	"github.com/veraison/go-cose"

	"github.com/edgegw/edgegw/crypto/internal/detcbor"
	"github.com/edgegw/edgegw/crypto/keys"
)

// ManifestContext is the first element of a signed export manifest's
// payload, so that its signature can never be taken for a batch's.
const ManifestContext = "edgegw export manifest v1"

// Manifest lists what a buffer export holds: the sequence numbers of the
// batches a technician copied from a gateway, when the uplink was down, to
// carry to the backend. It is signed by the gateway, so the backend can tell
// a complete export from a stick that lost files.
type Manifest struct {
	Gateway  string      // gateway id
	Created  time.Time   // when the export was made, whole seconds
	Ranges   [][2]uint64 // ascending, disjoint inclusive ranges of sequence numbers
	Batches  uint64      // number of batches
	Readings uint64      // number of readings in them
}

// wireManifest is the signed payload: a CBOR array.
type wireManifest struct {
	_        struct{} `cbor:",toarray"`
	Context  string
	Gateway  string
	Created  int64
	Ranges   [][2]uint64
	Batches  uint64
	Readings uint64
}

// Contains reports whether seq is in one of the manifest's ranges.
func (m Manifest) Contains(seq uint64) bool {
	for _, r := range m.Ranges {
		if seq >= r[0] && seq <= r[1] {
			return true
		}
	}
	return false
}

// SignManifest returns m signed by id: a tagged COSE_Sign1 with protected
// header {alg: EdDSA, kid} and the payload attached, in the one form
// OpenManifest accepts.
func SignManifest(id *keys.Identity, m Manifest) ([]byte, error) {
	if m.Gateway != id.ID {
		return nil, fmt.Errorf("sign manifest: gateway %q is not identity %q", m.Gateway, id.ID)
	}
	payload, err := encMode.Marshal(&wireManifest{Context: ManifestContext, Gateway: m.Gateway, Created: m.Created.Unix(),
		Ranges: m.Ranges, Batches: m.Batches, Readings: m.Readings})
	if err != nil {
		return nil, fmt.Errorf("sign manifest: %w", err)
	}
	b, err := sign1.Sign(id.Key, id.Public().KID(), payload, false)
	if err != nil {
		return nil, fmt.Errorf("sign manifest: %w", err)
	}
	return b, nil
}

// OpenManifest verifies a signed manifest against trust and returns it. It
// accepts only the form SignManifest writes: the COSE_Sign1 of the trailer
// with the payload attached, the payload in deterministic encoding, and at
// least one range, ranges ascending and disjoint. Errors are *RejectError with
// reason malformed, untrusted-gateway or bad-signature.
func OpenManifest(data []byte, trust Trust) (Manifest, error) {
	msg, kid, err := parseSign1(data)
	if err != nil {
		return Manifest{}, reject(ReasonMalformed, "manifest: %w", err)
	}
	if msg.Payload == nil {
		return Manifest{}, reject(ReasonMalformed, "manifest: payload is detached")
	}
	var w wireManifest
	switch err := detcbor.Decode(decMode, encMode, msg.Payload, &w); {
	case (err != nil && !errors.Is(err, detcbor.ErrNotCanonical)) || w.Context != ManifestContext:
		return Manifest{}, reject(ReasonMalformed, "manifest: payload is not an edgegw export manifest")
	case err != nil:
		return Manifest{}, reject(ReasonMalformed, "manifest: payload not in deterministic encoding or of the wrong types")
	}
	id, ok := trust[w.Gateway]
	if !ok {
		return Manifest{}, reject(ReasonUntrustedGateway, "manifest of gateway %q", w.Gateway)
	}
	if !bytes.Equal(kid, id.KID()) {
		return Manifest{}, reject(ReasonUntrustedGateway, "manifest of gateway %q: not signed with its pinned key", w.Gateway)
	}
	v, err := cose.NewVerifier(cose.AlgorithmEdDSA, id.Key)
	if err == nil {
		err = msg.Verify(nil, v)
	}
	if err != nil {
		return Manifest{}, reject(ReasonBadSignature, "manifest of gateway %q: %w", w.Gateway, err)
	}
	if len(w.Ranges) == 0 {
		return Manifest{}, reject(ReasonMalformed, "manifest: no ranges")
	}
	for i, r := range w.Ranges {
		if r[0] > r[1] || (i > 0 && r[0] <= w.Ranges[i-1][1]) {
			return Manifest{}, reject(ReasonMalformed, "manifest: ranges not ascending and disjoint")
		}
	}
	return Manifest{Gateway: w.Gateway, Created: time.Unix(w.Created, 0).UTC(), Ranges: w.Ranges, Batches: w.Batches, Readings: w.Readings}, nil
}
