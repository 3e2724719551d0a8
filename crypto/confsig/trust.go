package confsig

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"
)

// TrustContext is the first element of a trust document's payload.
const TrustContext = "edgegw ops trust v1"

// MaxTrustKeys is the largest number of ops keys a trust document pins.
const MaxTrustKeys = 64

// wireTrust is the signed payload of a trust document.
type wireTrust struct {
	_         struct{} `cbor:",toarray"`
	Context   string
	Version   uint64
	Target    wireTarget
	NotBefore int64
	Expires   int64
	Keys      [][]byte
}

// TrustUpdate is a verified trust document: the complete new set of pinned
// ops keys.
type TrustUpdate struct {
	// Version is the trust set's version; the gateway persists it with the
	// set and passes it as Policy.Running next time.
	Version uint64
	// Target is the set of gateways the document is for.
	Target Target
	// NotBefore and Expires bound the validity; zero when absent.
	NotBefore, Expires time.Time
	// Trust is the new set of pinned ops keys, never empty.
	Trust OpsTrust
	// Added and Retired are the keys the update adds to and removes from the
	// set it was verified against, ordered by key bytes.
	Added, Retired []OpsPublic
	// KeyID is the id of the (previously pinned) key that signed it.
	KeyID KID
}

// SignTrust returns a trust document, signed by key, that replaces the pinned
// ops keys of target's gateways with pins (1..MaxTrustKeys keys) at trust
// version version (at least 1). Comments of pins are not signed. notBefore
// and expires are as for Sign.
func SignTrust(key *OpsKey, version uint64, target Target, notBefore, expires time.Time, pins OpsTrust) ([]byte, error) {
	if version == 0 {
		return nil, errors.New("sign trust: version must be at least 1")
	}
	if len(pins) == 0 || len(pins) > MaxTrustKeys {
		return nil, fmt.Errorf("sign trust: %d keys, want 1 to %d", len(pins), MaxTrustKeys)
	}
	target = target.normalized()
	if err := target.check(); err != nil {
		return nil, fmt.Errorf("sign trust: %w", err)
	}
	nb, exp, err := window(notBefore, expires)
	if err != nil {
		return nil, fmt.Errorf("sign trust: %w", err)
	}
	w := wireTrust{Context: TrustContext, Version: version,
		Target:    wireTarget(target),
		NotBefore: nb, Expires: exp}
	for _, p := range pins.Sorted() {
		if len(p.Key) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("sign trust: key %s is %d bytes", p.KID(), len(p.Key))
		}
		w.Keys = append(w.Keys, p.Key)
	}
	payload, err := encMode.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("sign trust: %w", err)
	}
	doc, err := signDoc(key, payload)
	if err != nil {
		return nil, fmt.Errorf("sign trust: %w", err)
	}
	return doc, nil
}

// VerifyTrust checks that doc is a canonical trust document signed by a key
// of trust (the currently pinned set), whose target includes the gateway,
// whose version is strictly greater than p.Running (the current trust
// version) and which is valid at p.Now, and returns the new set. Any failure
// is a *RejectError; a configuration document is malformed here.
func (p Policy) VerifyTrust(doc []byte, trust OpsTrust) (*TrustUpdate, error) {
	var w wireTrust
	kid, err := openPayload(doc, trust, &w, TrustContext, "ops trust")
	if err != nil {
		return nil, err
	}
	u := &TrustUpdate{Version: w.Version, Target: Target(w.Target), KeyID: kid}
	if len(w.Keys) == 0 || len(w.Keys) > MaxTrustKeys {
		return nil, reject(ReasonMalformed, "%d keys, want 1 to %d", len(w.Keys), MaxTrustKeys)
	}
	u.Trust = make(OpsTrust, len(w.Keys))
	for i, k := range w.Keys {
		if len(k) != ed25519.PublicKeySize || (i > 0 && bytes.Compare(w.Keys[i-1], k) >= 0) {
			return nil, reject(ReasonMalformed, "keys are not ascending, unique 32-byte Ed25519 keys")
		}
		pub := OpsPublic{Key: ed25519.PublicKey(k)}
		if old, ok := trust[pub.KID()]; ok && old.Key.Equal(pub.Key) {
			pub.Comment = old.Comment
		}
		u.Trust[pub.KID()] = pub
	}
	if len(u.Trust) != len(w.Keys) {
		return nil, reject(ReasonMalformed, "two keys share a key id")
	}
	if u.NotBefore, u.Expires, err = p.common(u.Target, w.Version, w.NotBefore, w.Expires); err != nil {
		return nil, err
	}
	for _, pub := range u.Trust.Sorted() {
		if _, ok := trust[pub.KID()]; !ok {
			u.Added = append(u.Added, pub)
		}
	}
	for _, pub := range trust.Sorted() {
		if _, ok := u.Trust[pub.KID()]; !ok {
			u.Retired = append(u.Retired, pub)
		}
	}
	return u, nil
}
