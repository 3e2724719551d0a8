package confsig

import (
	"time"

	"github.com/veraison/go-cose"
)

// Header is what a signed document says about itself, read without
// verifying anything: enough for an ops tool to route the document to its
// gateways. Gateways use Verify and VerifyTrust, never Header.
type Header struct {
	Kind               string    // DocConfig or DocTrust
	Version            uint64    // the signed version
	Target             Target    // the gateways the document is for
	NotBefore, Expires time.Time // zero when absent
	// Config is the configuration a configuration document carries, as
	// signed and unverified; nil for a trust document.
	Config []byte
}

// Inspect reads doc's header without checking its signature. It rejects
// what no gateway could accept: an unknown document or a malformed target.
func Inspect(doc []byte) (*Header, error) {
	kind := Kind(doc)
	if kind == "" {
		return nil, reject(ReasonMalformed, "not a signed edgegw configuration or trust document")
	}
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(doc); err != nil {
		return nil, reject(ReasonMalformed, "%w", err)
	}
	h := &Header{Kind: kind}
	var wt wireTarget
	var nb, exp int64
	if kind == DocConfig {
		var w wireConfig
		if err := decodeCanonical(msg.Payload, &w); err != nil {
			return nil, reject(ReasonMalformed, "%w", err)
		}
		h.Version, wt, nb, exp, h.Config = w.Version, w.Target, w.NotBefore, w.Expires, w.Config
	} else {
		var w wireTrust
		if err := decodeCanonical(msg.Payload, &w); err != nil {
			return nil, reject(ReasonMalformed, "%w", err)
		}
		h.Version, wt, nb, exp = w.Version, w.Target, w.NotBefore, w.Expires
	}
	h.Target = Target(wt)
	if err := h.Target.check(); err != nil {
		return nil, reject(ReasonMalformed, "target: %w", err)
	}
	if nb > 0 {
		h.NotBefore = time.Unix(nb, 0).UTC()
	}
	if exp > 0 {
		h.Expires = time.Unix(exp, 0).UTC()
	}
	return h, nil
}
