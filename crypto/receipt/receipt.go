package receipt

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/edgegw/edgegw/crypto/internal/sign1"

	"github.com/veraison/go-cose"

	"github.com/edgegw/edgegw/crypto/internal/detcbor"
	"github.com/edgegw/edgegw/crypto/keys"
)

// Context is the first element of a receipt's payload, so that its signature
// can never be taken for a batch's or a manifest's.
const Context = "edgegw receipt v1"

// MaxRanges is the largest number of ranges a receipt carries; the signer
// keeps the ranges nearest the newest batches.
const MaxRanges = 64

// maxSize bounds a receipt on the wire: 64 ranges of two 9-byte integers,
// a 128-byte gateway id, the COSE structure and the signature fit well.
const maxSize = 4096

// Receipt says which sequence numbers of one gateway the backend's database
// has committed.
type Receipt struct {
	Gateway string      // the gateway the receipt is for
	Through uint64      // every number in 1..Through is committed
	Ranges  [][2]uint64 // committed runs above Through+1, ascending, disjoint, inclusive
	Time    time.Time   // when the backend signed it, millisecond precision
	Signer  string      // id of the ingest identity that signed it; set by Verify
}

// Covers reports whether the receipt says seq is committed.
func (r Receipt) Covers(seq uint64) bool {
	if seq >= 1 && seq <= r.Through {
		return true
	}
	for _, g := range r.Ranges {
		if seq >= g[0] && seq <= g[1] {
			return true
		}
	}
	return false
}

// Highest returns the highest number the receipt covers, 0 when none.
func (r Receipt) Highest() uint64 {
	if n := len(r.Ranges); n > 0 {
		return r.Ranges[n-1][1]
	}
	return r.Through
}

// wire is the signed payload.
type wire struct {
	_       struct{} `cbor:",toarray"`
	Context string
	Gateway string
	Through uint64
	Ranges  [][2]uint64
	Time    int64
}

// decMode decodes the wire payload strictly.
var decMode = detcbor.Strict(detcbor.Limits{Nesting: 4, Array: MaxRanges, MapPairs: 16})

// Errors of Verify. Each is wrapped with the detail; match with errors.Is.
var (
	// ErrMalformed: not a well-formed receipt.
	ErrMalformed = errors.New("malformed receipt")
	// ErrUntrusted: not signed by any pinned ingest key.
	ErrUntrusted = errors.New("receipt not signed by a pinned ingest key")
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = errors.New("receipt signature does not verify")
	// ErrForeign: a valid receipt for another gateway.
	ErrForeign = errors.New("receipt for another gateway")
)

// check refuses ranges that are not ascending, disjoint and above through+1.
func check(r Receipt) error {
	if err := keys.ValidateID(r.Gateway); err != nil {
		return fmt.Errorf("%w: gateway: %w", ErrMalformed, err)
	}
	if len(r.Ranges) > MaxRanges {
		return fmt.Errorf("%w: %d ranges, at most %d", ErrMalformed, len(r.Ranges), MaxRanges)
	}
	prev := r.Through + 1 // a range must start after through+1: through+1 is not committed
	for _, g := range r.Ranges {
		if g[0] > g[1] || g[0] <= prev {
			return fmt.Errorf("%w: ranges not ascending, disjoint and above %d", ErrMalformed, r.Through+1)
		}
		prev = g[1] + 1
	}
	return nil
}

// Sign returns r signed by the ingest identity id.
func Sign(id *keys.Identity, r Receipt) ([]byte, error) {
	if err := check(r); err != nil {
		return nil, fmt.Errorf("sign receipt: %w", err)
	}
	payload, err := detcbor.Enc.Marshal(&wire{Context: Context, Gateway: r.Gateway, Through: r.Through, Ranges: r.Ranges, Time: r.Time.UnixMilli()})
	if err != nil {
		return nil, fmt.Errorf("sign receipt: %w", err)
	}
	b, err := sign1.Sign(id.Key, id.Public().KID(), payload, false)
	if err != nil {
		return nil, fmt.Errorf("sign receipt: %w", err)
	}
	return b, nil
}

// Verify checks that data is a receipt for gateway signed by one of the
// pinned ingest identities, and returns it with Signer set.
func Verify(data []byte, gateway string, pinned []keys.PublicIdentity) (Receipt, error) {
	if len(data) > maxSize {
		return Receipt{}, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(data), maxSize)
	}
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(data); err != nil {
		return Receipt{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	alg, err := msg.Headers.Protected.Algorithm()
	if err != nil || alg != cose.AlgorithmEdDSA {
		return Receipt{}, fmt.Errorf("%w: algorithm is not EdDSA", ErrMalformed)
	}
	kid, _ := msg.Headers.Protected[cose.HeaderLabelKeyID].([]byte)
	i := slices.IndexFunc(pinned, func(p keys.PublicIdentity) bool { return bytes.Equal(p.KID(), kid) })
	if i < 0 {
		return Receipt{}, fmt.Errorf("%w: key id %x", ErrUntrusted, kid)
	}
	v, err := cose.NewVerifier(cose.AlgorithmEdDSA, pinned[i].Key)
	if err == nil {
		err = msg.Verify(nil, v)
	}
	if err != nil {
		return Receipt{}, fmt.Errorf("%w: signed as %s: %w", ErrBadSignature, pinned[i].ID, err)
	}
	var w wire
	// Deterministic CBOR only: the one encoding of what was decoded, so
	// that a lenient decode (a longer range array, a null) is refused.
	switch err := detcbor.Decode(decMode, detcbor.Enc, msg.Payload, &w); {
	case (err != nil && !errors.Is(err, detcbor.ErrNotCanonical)) || w.Context != Context:
		return Receipt{}, fmt.Errorf("%w: payload is not an edgegw receipt", ErrMalformed)
	case err != nil:
		return Receipt{}, fmt.Errorf("%w: payload is %w", ErrMalformed, err)
	}
	r := Receipt{Gateway: w.Gateway, Through: w.Through, Ranges: w.Ranges, Time: time.UnixMilli(w.Time).UTC(), Signer: pinned[i].ID}
	if err := check(r); err != nil {
		return Receipt{}, err
	}
	if r.Gateway != gateway {
		return Receipt{}, fmt.Errorf("%w: for %q, this is %q", ErrForeign, r.Gateway, gateway)
	}
	return r, nil
}

// FromSet builds the receipt for gateway from the committed sequence numbers
// given as ascending, disjoint, inclusive ranges (as a database returns
// them): Through is the end of the run that starts at 1, and Ranges are the
// runs above it, the newest MaxRanges when there are more, and always
// including the runs that contain any of want (numbers just committed or
// received again), so that the gateway hears about what it just sent.
func FromSet(gateway string, committed [][2]uint64, now time.Time, want ...uint64) Receipt {
	r := Receipt{Gateway: gateway, Time: now.Truncate(time.Millisecond)}
	rest := committed
	if len(rest) > 0 && rest[0][0] <= 1 {
		r.Through = rest[0][1]
		rest = rest[1:]
	}
	if len(rest) <= MaxRanges {
		r.Ranges = slices.Clone(rest)
		return r
	}
	keep := make([]bool, len(rest))
	n := 0
	for _, s := range want {
		if i, ok := slices.BinarySearchFunc(rest, s, func(g [2]uint64, s uint64) int {
			switch {
			case g[1] < s:
				return -1
			case g[0] > s:
				return 1
			}
			return 0
		}); ok && !keep[i] && n < MaxRanges {
			keep[i] = true
			n++
		}
	}
	for i := len(rest) - 1; i >= 0 && n < MaxRanges; i-- {
		if !keep[i] {
			keep[i] = true
			n++
		}
	}
	for i, g := range rest {
		if keep[i] {
			r.Ranges = append(r.Ranges, g)
		}
	}
	return r
}
