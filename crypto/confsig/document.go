package confsig

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// ConfigContext is the first element of a configuration document's payload,
// so that its signature can never be taken for another document's.
const ConfigContext = "edgegw config v1"

// wireTarget is a target on the wire: a CBOR map with text keys.
type wireTarget struct {
	Kind  string   `cbor:"kind"`
	IDs   []string `cbor:"ids,omitempty"`
	Group string   `cbor:"group,omitempty"`
}

// wireConfig is the signed payload of a configuration document.
type wireConfig struct {
	_         struct{} `cbor:",toarray"`
	Context   string
	Version   uint64
	Target    wireTarget
	NotBefore int64
	Expires   int64
	Config    []byte
}

// Document is a verified configuration document.
type Document struct {
	// Version is the signed configuration version.
	Version uint64
	// Target is the set of gateways the document is for.
	Target Target
	// NotBefore and Expires bound the validity; zero when absent.
	NotBefore, Expires time.Time
	// Config is the signed configuration, opaque to this package: a gateway
	// parses and validates it, and applies (and persists) exactly these
	// bytes.
	Config []byte
	// Digest is the SHA-256 of Config, for status reports.
	Digest [sha256.Size]byte
	// KeyID is the id of the ops key that signed the document.
	KeyID KID
}

// Sign returns config signed by key as a configuration document for target
// at version (at least 1). config is signed as it is, byte for byte: this
// package does not read it, so the caller checks that it is a valid
// configuration for the target at that version (gateway/fleet.SignConfig
// does). It holds 1 to MaxConfigSize bytes. notBefore and expires are kept in
// whole seconds (truncated); a zero time means none.
func Sign(key *OpsKey, version uint64, target Target, notBefore, expires time.Time, config []byte) ([]byte, error) {
	if version == 0 {
		return nil, errors.New("sign config: version must be at least 1 (a gateway runs version 0 before its first push)")
	}
	if len(config) == 0 || len(config) > MaxConfigSize {
		return nil, fmt.Errorf("sign config: the configuration is %d bytes, want 1 to %d", len(config), MaxConfigSize)
	}
	nb, exp, err := window(notBefore, expires)
	if err != nil {
		return nil, fmt.Errorf("sign config: %w", err)
	}
	target = target.normalized()
	if err := target.check(); err != nil {
		return nil, fmt.Errorf("sign config: %w", err)
	}
	payload, err := encMode.Marshal(&wireConfig{
		Context: ConfigContext, Version: version,
		Target:    wireTarget(target),
		NotBefore: nb, Expires: exp, Config: config,
	})
	if err != nil {
		return nil, fmt.Errorf("sign config: %w", err)
	}
	doc, err := signDoc(key, payload)
	if err != nil {
		return nil, fmt.Errorf("sign config: %w", err)
	}
	if len(doc) > MaxDocumentSize {
		return nil, fmt.Errorf("sign config: document is %d bytes, more than %d", len(doc), MaxDocumentSize)
	}
	return doc, nil
}

// window converts a validity window to Unix seconds, 0 for a zero time.
func window(notBefore, expires time.Time) (nb, exp int64, err error) {
	if !notBefore.IsZero() {
		if nb = notBefore.Unix(); nb <= 0 {
			return 0, 0, fmt.Errorf("not-before %s is not after 1970", notBefore.UTC().Format(time.RFC3339))
		}
	}
	if !expires.IsZero() {
		if exp = expires.Unix(); exp <= 0 {
			return 0, 0, fmt.Errorf("expiry %s is not after 1970", expires.UTC().Format(time.RFC3339))
		}
	}
	if nb != 0 && exp != 0 && exp <= nb {
		return 0, 0, fmt.Errorf("expiry %s is not after not-before %s",
			time.Unix(exp, 0).UTC().Format(time.RFC3339), time.Unix(nb, 0).UTC().Format(time.RFC3339))
	}
	return nb, exp, nil
}

// Policy is what a gateway checks a document against.
type Policy struct {
	// GatewayID is this gateway's id.
	GatewayID string
	// Group is the fleet group this gateway belongs to; empty for none.
	Group string
	// Running is the version currently running (of the configuration for
	// Verify, of the trust set for VerifyTrust); a document must be newer.
	Running uint64
	// Now is the time to check validity windows against.
	Now time.Time
}

// Verify checks, in this order, that doc is a canonical configuration
// document, signed by a key of trust, whose target includes p.GatewayID (by
// id, list or p.Group), whose version is strictly greater than p.Running, and
// which is valid at p.Now (not-before ≤ now < expires). Any failure is a
// *RejectError. The configuration it carries is returned unread: the
// gateway's check continues with it (gateway/fleet.VerifyConfig).
func (p Policy) Verify(doc []byte, trust OpsTrust) (*Document, error) {
	var w wireConfig
	kid, err := openPayload(doc, trust, &w, ConfigContext, "config")
	if err != nil {
		return nil, err
	}
	if len(w.Config) == 0 || len(w.Config) > MaxConfigSize {
		return nil, reject(ReasonMalformed, "configuration is %d bytes, want 1 to %d", len(w.Config), MaxConfigSize)
	}
	d := &Document{Version: w.Version, Target: Target(w.Target),
		Config: w.Config, Digest: sha256.Sum256(w.Config), KeyID: kid}
	if d.NotBefore, d.Expires, err = p.common(d.Target, w.Version, w.NotBefore, w.Expires); err != nil {
		return nil, err
	}
	return d, nil
}

// common checks what configuration and trust documents share: a valid
// target including the gateway, a newer version and the validity window. It
// returns the window as times (zero when absent).
func (p Policy) common(t Target, version uint64, nb, exp int64) (notBefore, expires time.Time, err error) {
	if err := t.check(); err != nil {
		return notBefore, expires, reject(ReasonMalformed, "%w", err)
	}
	if nb < 0 || exp < 0 || (nb != 0 && exp != 0 && exp <= nb) {
		return notBefore, expires, reject(ReasonMalformed, "invalid validity window [%d, %d)", nb, exp)
	}
	if !t.Includes(p.GatewayID, p.Group) {
		group := ""
		if p.Group != "" {
			group = " (group " + p.Group + ")"
		}
		return notBefore, expires, reject(ReasonNotForThisGateway, "target is %s, not gateway %s%s", t, p.GatewayID, group)
	}
	if version <= p.Running {
		return notBefore, expires, reject(ReasonNotNewer, "version %d is not newer than running version %d", version, p.Running)
	}
	if nb != 0 {
		notBefore = time.Unix(nb, 0).UTC()
		if p.Now.Before(notBefore) {
			return notBefore, expires, reject(ReasonNotYetValid, "valid from %s, now %s", notBefore.Format(time.RFC3339), p.Now.UTC().Format(time.RFC3339))
		}
	}
	if exp != 0 {
		expires = time.Unix(exp, 0).UTC()
		if !p.Now.Before(expires) {
			return notBefore, expires, reject(ReasonExpired, "expired at %s, now %s", expires.Format(time.RFC3339), p.Now.UTC().Format(time.RFC3339))
		}
	}
	return notBefore, expires, nil
}

// Document kinds returned by Kind.
const (
	DocConfig = "config"
	DocTrust  = "trust"
)

// Kind returns DocConfig or DocTrust according to the context string that
// starts doc's payload, or "" when doc is neither. It verifies nothing: use it
// only to choose between Verify and VerifyTrust.
func Kind(doc []byte) string {
	if len(doc) > MaxDocumentSize {
		return ""
	}
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(doc); err != nil {
		return ""
	}
	var items []cbor.RawMessage
	var ctx string
	if decMode.Unmarshal(msg.Payload, &items) != nil || len(items) == 0 || decMode.Unmarshal(items[0], &ctx) != nil {
		return ""
	}
	switch ctx {
	case ConfigContext:
		return DocConfig
	case TrustContext:
		return DocTrust
	}
	return ""
}
