package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/crypto/confsig"
	"github.com/edgegw/edgegw/gateway/fleet"
)

// The fleet operations commands that sign configuration and trust
// documents (keysops.go makes their keys, verify.go checks documents);
// newConfigSignCmd and newConfigSignTrustCmd go under `edgegw config`.

// fleetDocFlags are the flags shared by the signing commands.
type fleetDocFlags struct {
	key       string
	version   uint64
	gateways  []string
	group     string
	notBefore string
	expires   string
	validFor  time.Duration
	out       string
}

func (f *fleetDocFlags) register(c *cobra.Command, what string) {
	fl := c.Flags()
	fl.StringVar(&f.key, "key", "", "ops private key file (ops.key, mode 0600)")
	fl.Uint64Var(&f.version, "version", 0, what+" version, at least 1; gateways accept only a version newer than the one they run")
	fl.StringArrayVar(&f.gateways, "gateway", nil, "target gateway id; repeat for a list of gateways")
	fl.StringVar(&f.group, "group", "", "target every gateway of this fleet group")
	fl.StringVar(&f.notBefore, "not-before", "", "not valid before this time (RFC 3339, e.g. 2026-03-01T12:00:00Z)")
	fl.StringVar(&f.expires, "expires", "", "not valid from this time on (RFC 3339)")
	fl.DurationVar(&f.validFor, "valid-for", 0, "valid for this long from --not-before, or from now (e.g. 72h)")
	fl.StringVar(&f.out, "out", "", "write the signed document to this file instead of standard output")
}

// target returns the target the flags select; a zero Target when none.
func (f *fleetDocFlags) target() (confsig.Target, error) {
	switch {
	case len(f.gateways) > 0 && f.group != "":
		return confsig.Target{}, usageError{errors.New("--gateway and --group are exclusive")}
	case len(f.gateways) == 1:
		return confsig.ForGateway(f.gateways[0]), nil
	case len(f.gateways) > 1:
		return confsig.ForGateways(f.gateways...), nil
	case f.group != "":
		return confsig.ForGroup(f.group), nil
	}
	return confsig.Target{}, nil
}

// window returns the validity window the flags give; zero times for none.
func (f *fleetDocFlags) window(now time.Time) (notBefore, expires time.Time, err error) {
	if f.notBefore != "" {
		if notBefore, err = time.Parse(time.RFC3339, f.notBefore); err != nil {
			return notBefore, expires, usageError{fmt.Errorf("--not-before: %w", err)}
		}
	}
	switch {
	case f.expires != "" && f.validFor != 0:
		return notBefore, expires, usageError{errors.New("--expires and --valid-for are exclusive")}
	case f.expires != "":
		if expires, err = time.Parse(time.RFC3339, f.expires); err != nil {
			return notBefore, expires, usageError{fmt.Errorf("--expires: %w", err)}
		}
	case f.validFor < 0:
		return notBefore, expires, usageError{errors.New("--valid-for must be positive")}
	case f.validFor > 0:
		from := now
		if !notBefore.IsZero() {
			from = notBefore
		}
		expires = from.Add(f.validFor)
	}
	return notBefore, expires, nil
}

// check returns a usage error for missing required flags.
func (f *fleetDocFlags) check() error {
	if f.key == "" {
		return usageError{errors.New("--key is required")}
	}
	if f.version == 0 {
		return usageError{errors.New("--version is required and at least 1")}
	}
	return nil
}

// write writes doc to --out (mode 0644) or to standard output, and a summary
// to standard error.
func (f *fleetDocFlags) write(c *cobra.Command, doc []byte, summary string) error {
	if f.out == "" {
		if _, err := c.OutOrStdout().Write(doc); err != nil {
			return fmt.Errorf("write signed document: %w", err)
		}
	} else if err := os.WriteFile(f.out, doc, 0o644); err != nil {
		return fmt.Errorf("write signed document: %w", err)
	}
	_, err := fmt.Fprintln(c.ErrOrStderr(), summary)
	return err
}

// newConfigSignCmd is `edgegw config sign`.
func newConfigSignCmd() *cobra.Command {
	var f fleetDocFlags
	c := &cobra.Command{
		Use:   "sign --key ops.key --version N [--gateway ID... | --group G] [--not-before T] [--expires T | --valid-for D] [--out FILE] config.yaml",
		Short: "Sign a configuration for fleet push (target defaults to the configuration's gateway.id)",
		Long: `Sign a configuration for fleet push.

The configuration is checked as ` + "`edgegw run`" + ` checks it (` + "`edgegw config validate`" + `:
every field and each device's options through this binary's drivers), its
version field must equal --version, and the file is signed as it is, comments
and all, with the ops key as a COSE_Sign1 document for the target: one gateway
(--gateway ID), a list (--gateway repeated) or a fleet group (--group). Without
a target the document is for the configuration's own gateway.id. The gateway
applies exactly the signed bytes. The document goes to standard output, or to
--out; a summary goes to standard error.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			target, err := f.target()
			if err != nil {
				return err
			}
			nb, exp, err := f.window(time.Now())
			if err != nil {
				return err
			}
			yaml, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("sign config: %w", err)
			}
			key, err := confsig.LoadOpsKey(f.key)
			if err != nil {
				return err
			}
			doc, target, err := fleet.SignConfig(key, f.version, target, nb, exp, args[0], yaml)
			if err != nil {
				return err
			}
			return f.write(c, doc, fmt.Sprintf("signed %s: config version %d for %s%s, key %s, %d bytes",
				args[0], f.version, target, windowText(nb, exp), key.Public().KID(), len(doc)))
		},
	}
	f.register(c, "configuration")
	return c
}

// newConfigSignTrustCmd is `edgegw config sign-trust`.
func newConfigSignTrustCmd() *cobra.Command {
	var f fleetDocFlags
	var pins []string
	c := &cobra.Command{
		Use:   "sign-trust --key ops.key --version N --pin ops.pub... (--gateway ID... | --group G) [--not-before T] [--expires T | --valid-for D] [--out FILE]",
		Short: "Sign a trust document that replaces the pinned ops keys of gateways (rotation)",
		Long: `Sign a trust document: the complete new set of ops public keys (--pin files,
repeated) that the target gateways pin instead of their current set, at trust
version --version (counted apart from configuration versions). The signing
key must be pinned by the gateways now; the new set may drop it (retire).`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if len(pins) == 0 {
				return usageError{errors.New("--pin is required")}
			}
			target, err := f.target()
			if err != nil {
				return err
			}
			if target.Kind == "" {
				return usageError{errors.New("--gateway or --group is required")}
			}
			nb, exp, err := f.window(time.Now())
			if err != nil {
				return err
			}
			set, err := confsig.LoadOpsPublic(pins...)
			if err != nil {
				return err
			}
			key, err := confsig.LoadOpsKey(f.key)
			if err != nil {
				return err
			}
			doc, err := confsig.SignTrust(key, f.version, target, nb, exp, set)
			if err != nil {
				return err
			}
			var kids []string
			for _, p := range set.Sorted() {
				kids = append(kids, p.KID().String())
			}
			return f.write(c, doc, fmt.Sprintf("signed trust version %d for %s%s: pins %s; key %s, %d bytes",
				f.version, target, windowText(nb, exp), strings.Join(kids, ", "), key.Public().KID(), len(doc)))
		},
	}
	f.register(c, "trust set")
	c.Flags().StringArrayVar(&pins, "pin", nil, "file of ops public keys the gateways will pin (the complete new set); repeatable")
	return c
}

// windowText describes a validity window for a signing summary.
func windowText(nb, exp time.Time) string {
	s := ""
	if !nb.IsZero() {
		s += ", not before " + nb.UTC().Format(time.RFC3339)
	}
	if !exp.IsZero() {
		s += ", expires " + exp.UTC().Format(time.RFC3339)
	}
	return s
}

// validityText describes a validity window checked at now.
func validityText(nb, exp, now time.Time) string {
	var parts []string
	if !nb.IsZero() {
		parts = append(parts, "not before "+nb.Format(time.RFC3339))
	}
	if !exp.IsZero() {
		parts = append(parts, "expires "+exp.Format(time.RFC3339))
	}
	if len(parts) == 0 {
		return "no validity window (never expires)"
	}
	return strings.Join(parts, ", ") + "; ok at " + now.UTC().Format(time.RFC3339)
}
