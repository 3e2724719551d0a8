package fleet

import (
	"fmt"
	"slices"
	"time"

	"github.com/edgegw/edgegw/crypto/confsig"
	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/config"
)

// Verified is a configuration document a gateway accepts: its signature and
// routing header (confsig.Document), and the configuration it carries,
// parsed and checked as `edgegw run` checks it.
type Verified struct {
	*confsig.Document
	// Parsed is Document.Config parsed and checked.
	Parsed *config.Config
}

// SignConfig checks the configuration yaml (called name in errors) as
// `edgegw run` will (gateway.CheckConfig), that its version field equals
// version and that target includes its gateway.id, and returns it signed by
// key as a document for target, byte for byte as written: comments, hex
// addresses and sizes such as 256MiB reach the gateway as the operator
// wrote them. A zero target means the configuration's own gateway; the
// target used is returned with the document.
func SignConfig(key *confsig.OpsKey, version uint64, target confsig.Target, notBefore, expires time.Time, name string, yaml []byte) ([]byte, confsig.Target, error) {
	cfg, err := config.Parse(name, yaml)
	if err == nil {
		err = gateway.CheckConfig(cfg)
	}
	if err != nil {
		return nil, target, fmt.Errorf("sign config: %w", err)
	}
	if target.Kind == "" && target.IDs == nil && target.Group == "" {
		target = confsig.ForGateway(cfg.Gateway.ID)
	}
	if cfg.Version != version {
		return nil, target, fmt.Errorf("sign config: %s: the configuration says version %d but --version is %d: set `version: %d` in the file so the signed and applied versions agree", name, cfg.Version, version, version)
	}
	if target.Kind != confsig.KindGroup && !slices.Contains(target.IDs, cfg.Gateway.ID) {
		return nil, target, fmt.Errorf("sign config: %s: the configuration is for gateway %q, which the target (%s) does not include", name, cfg.Gateway.ID, target)
	}
	doc, err := confsig.Sign(key, version, target, notBefore, expires, yaml)
	if err != nil {
		return nil, target, err
	}
	return doc, target, nil
}

// VerifyConfig is a gateway's whole check of a configuration document:
// p.Verify (signature by a key of trust, target, newer version, validity),
// then the configuration it carries must parse and pass gateway.CheckConfig,
// name p.GatewayID and carry the signed version. Every failure is a
// *confsig.RejectError.
func VerifyConfig(p confsig.Policy, doc []byte, trust confsig.OpsTrust) (*Verified, error) {
	d, err := p.Verify(doc, trust)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("signed config v%d", d.Version)
	cfg, err := config.Parse(name, d.Config)
	if err == nil {
		err = gateway.CheckConfig(cfg)
	}
	if err != nil {
		return nil, &confsig.RejectError{Reason: confsig.ReasonInvalidConfig, Err: err}
	}
	if cfg.Gateway.ID != p.GatewayID {
		return nil, &confsig.RejectError{Reason: confsig.ReasonNotForThisGateway, Err: fmt.Errorf("%s: gateway.id is %q, not %q", name, cfg.Gateway.ID, p.GatewayID)}
	}
	if cfg.Version != d.Version {
		return nil, &confsig.RejectError{Reason: confsig.ReasonInvalidConfig, Err: fmt.Errorf("%s: version field is %d, not the signed %d", name, cfg.Version, d.Version)}
	}
	return &Verified{Document: d, Parsed: cfg}, nil
}

// Recipients returns the gateways `edgegw config push` publishes the
// document h (read with confsig.Inspect) to: those its target names, or the
// named gateways when they are in its target. A group target needs named
// gateways (a broker cannot expand fleet groups), and a configuration goes
// only to the gateway its gateway.id names: any other would reject it, and
// the retained document would replace the one pending for it.
func Recipients(h *confsig.Header, gateways []string) ([]string, error) {
	ids := slices.Clone(gateways)
	switch {
	case h.Target.Kind == confsig.KindGroup && len(ids) == 0:
		return nil, fmt.Errorf("the document targets %s: the broker cannot expand fleet groups (each gateway knows its own group), so name the recipients with --gateway ID, repeated", h.Target)
	case h.Target.Kind == confsig.KindGroup:
	case len(ids) == 0:
		ids = slices.Clone(h.Target.IDs)
	default:
		for _, id := range ids {
			if !slices.Contains(h.Target.IDs, id) {
				return nil, fmt.Errorf("--gateway %s: not in the document's target (%s); the gateway would reject it", id, h.Target)
			}
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if h.Kind != confsig.DocConfig {
		return ids, nil
	}
	cfg, err := config.Parse(fmt.Sprintf("signed config v%d", h.Version), h.Config)
	if err != nil {
		return nil, fmt.Errorf("every gateway would reject the document (invalid-config): %w", err)
	}
	for _, id := range ids {
		if id != cfg.Gateway.ID {
			return nil, fmt.Errorf("the configuration is for gateway %s (its gateway.id), which alone can accept it: %s would reject it (not-for-this-gateway) and the retained document would replace the one pending for it; push with --gateway %s",
				cfg.Gateway.ID, id, cfg.Gateway.ID)
		}
	}
	return ids, nil
}
