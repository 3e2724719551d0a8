package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/crypto/confsig"
	"github.com/edgegw/edgegw/gateway/fleet"
)

// newConfigVerifyCmd is `edgegw config verify`.
func newConfigVerifyCmd() *cobra.Command {
	var trustFiles []string
	var gatewayID, group, at string
	var running uint64
	c := &cobra.Command{
		Use:   "verify --trust ops.pub... --gateway ID [--group G] [--running N] [--at T] DOCUMENT",
		Short: "Apply a gateway's exact check to a signed configuration (or trust) document; exit 0 only if it would accept it",
		Long: `Apply the exact check a gateway applies to a signed document: signature by
a pinned ops key (--trust, repeatable), target includes the gateway (--gateway,
and --group when it belongs to one), version newer than --running, validity at
--at (default now), and, for a configuration, that it parses, validates with
this binary's drivers, is for this gateway and carries the signed version.
Exit code 0 only when the gateway would accept the document; otherwise the
error names the reason (bad-signature, untrusted-key, not-for-this-gateway,
not-newer, not-yet-valid, expired, invalid-config, malformed). For a trust
document, --running is the gateway's trust version.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(trustFiles) == 0 {
				return usageError{errors.New("--trust is required")}
			}
			if gatewayID == "" {
				return usageError{errors.New("--gateway is required")}
			}
			now := time.Now()
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return usageError{fmt.Errorf("--at: %w", err)}
				}
				now = t
			}
			trust, err := confsig.LoadOpsPublic(trustFiles...)
			if err != nil {
				return err
			}
			doc, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			p := confsig.Policy{GatewayID: gatewayID, Group: group, Running: running, Now: now}
			out := c.OutOrStdout()
			if confsig.Kind(doc) == confsig.DocTrust {
				u, err := p.VerifyTrust(doc, trust)
				if err != nil {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				return printTrustChecks(out, args[0], p, trust, u)
			}
			d, err := fleet.VerifyConfig(p, doc, trust)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return printConfigChecks(out, args[0], p, trust, d)
		},
	}
	fl := c.Flags()
	fl.StringArrayVar(&trustFiles, "trust", nil, "file of pinned ops public keys (ops.pub); repeatable")
	fl.StringVar(&gatewayID, "gateway", "", "id of the gateway to check for")
	fl.StringVar(&group, "group", "", "fleet group the gateway belongs to, if any")
	fl.Uint64Var(&running, "running", 0, "version the gateway runs now (configuration, or trust for a trust document)")
	fl.StringVar(&at, "at", "", "check validity at this time instead of now (RFC 3339)")
	return c
}

// printConfigChecks reports what Verify checked on an accepted document.
func printConfigChecks(w io.Writer, name string, p confsig.Policy, trust confsig.OpsTrust, d *fleet.Verified) error {
	_, err := fmt.Fprintf(w, `%s: accepted by gateway %s
  signature  ok, ops key %s%s
  target     %s includes %s
  version    %d, newer than running %d
  validity   %s
  config     valid: gateway %s, %d devices, sha256 %s
`, name, p.GatewayID, d.KeyID, commentOf(trust, d.KeyID), d.Target, gatewayText(p), d.Version, p.Running,
		validityText(d.NotBefore, d.Expires, p.Now), d.Parsed.Gateway.ID, len(d.Parsed.Devices), hex.EncodeToString(d.Digest[:]))
	return err
}

// printTrustChecks reports what VerifyTrust checked on an accepted document.
func printTrustChecks(w io.Writer, name string, p confsig.Policy, trust confsig.OpsTrust, u *confsig.TrustUpdate) error {
	var b strings.Builder
	fmt.Fprintf(&b, `%s: trust update accepted by gateway %s
  signature  ok, ops key %s%s (pinned now)
  target     %s includes %s
  version    trust %d, newer than running %d
  validity   %s
  keys       %d pinned after the update
`, name, p.GatewayID, u.KeyID, commentOf(trust, u.KeyID), u.Target, gatewayText(p), u.Version, p.Running,
		validityText(u.NotBefore, u.Expires, p.Now), len(u.Trust))
	for _, k := range u.Added {
		fmt.Fprintf(&b, "  + added    %s\n", k.KID())
	}
	for _, k := range u.Retired {
		fmt.Fprintf(&b, "  - retired  %s%s\n", k.KID(), commentOf(trust, k.KID()))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// commentOf returns " (comment)" for a pinned key with a comment.
func commentOf(trust confsig.OpsTrust, kid confsig.KID) string {
	if p, ok := trust[kid]; ok && p.Comment != "" {
		return " (" + p.Comment + ")"
	}
	return ""
}

// gatewayText names the gateway checked for, with its group.
func gatewayText(p confsig.Policy) string {
	if p.Group != "" {
		return p.GatewayID + " (group " + p.Group + ")"
	}
	return p.GatewayID
}
