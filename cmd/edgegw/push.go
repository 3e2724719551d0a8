package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/crypto/confsig"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/gateway/config"
	"github.com/edgegw/edgegw/gateway/fleet"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/topic"
)

// The fleet operations commands that talk to the broker: newConfigPushCmd
// and newConfigStatusCmd go under `edgegw config`.

// brokerFlags are the connection flags of the ops MQTT commands.
type brokerFlags struct {
	broker, ca, cert, key string
	prefix, clientID      string
	timeout               time.Duration
}

func (f *brokerFlags) register(c *cobra.Command, timeout time.Duration, what string) {
	fl := c.Flags()
	fl.StringVar(&f.broker, "broker", "", "broker URL (mqtts://host:port, ssl:// or tls://)")
	fl.StringVar(&f.ca, "ca", "", "PEM file of the CA that signed the broker's certificate")
	fl.StringVar(&f.cert, "cert", "", "PEM client certificate of the ops identity")
	fl.StringVar(&f.key, "key", "", "PEM client key (mode 0600)")
	fl.StringVar(&f.prefix, "prefix", config.DefaultTopicPrefix, "topic prefix (the gateways' uplink.topic_prefix)")
	fl.StringVar(&f.clientID, "client-id", "", "MQTT client id (default: random edgegw-ops-…)")
	fl.DurationVar(&f.timeout, "timeout", timeout, what)
}

// check returns a usage error for missing or invalid flags.
func (f *brokerFlags) check() error {
	for _, r := range []struct{ name, v string }{{"--broker", f.broker}, {"--ca", f.ca}, {"--cert", f.cert}, {"--key", f.key}} {
		if r.v == "" {
			return usageError{fmt.Errorf("%s is required", r.name)}
		}
	}
	if err := topic.CheckPrefix(f.prefix); err != nil {
		return usageError{fmt.Errorf("--prefix: %w", err)}
	}
	if f.timeout <= 0 {
		return usageError{errors.New("--timeout must be positive")}
	}
	return nil
}

func (f *brokerFlags) client() mqtt.ClientConfig {
	return mqtt.ClientConfig{Broker: f.broker, CA: f.ca, Cert: f.cert, Key: f.key, ClientID: f.clientID}
}

// checkIDs returns a usage error for an invalid --gateway value.
func checkIDs(ids []string) error {
	for _, id := range ids {
		if err := keys.CheckGatewayID(id); err != nil {
			return usageError{fmt.Errorf("--gateway: %w", err)}
		}
	}
	return nil
}

// newConfigPushCmd is `edgegw config push`.
func newConfigPushCmd() *cobra.Command {
	var f brokerFlags
	var gateways []string
	c := &cobra.Command{
		Use:   "push --broker URL --ca CA --cert CERT --key KEY [--prefix P] [--gateway ID...] [--timeout D] DOCUMENT",
		Short: "Publish a signed configuration (or trust) document, retained, to the config/set topic of each target gateway",
		Long: `Publish a signed document retained with QoS 1 to <prefix>/<id>/config/set of
each gateway it targets, and wait for the broker's acknowledgements (at most
--timeout). One line per gateway says whether the broker confirmed it; the
exit code is 1 unless every publish is confirmed.

Only the gateways verify signatures: check the document with
` + "`edgegw config verify`" + ` first. push refuses a file that is not a signed
document, a document that has expired, and recipients that would reject it:

  - a gateway or list target goes to its gateways; --gateway narrows it to
    some of them (a retry);
  - a group target needs --gateway for each recipient: the broker cannot
    expand fleet groups (each gateway decides its own membership);
  - a configuration is accepted only by the gateway its gateway.id names, so
    a configuration with a list or group target must be pushed with
    --gateway <that id>: any other gateway would reject it, and the retained
    document would replace the one it has not fetched yet.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if err := checkIDs(gateways); err != nil {
				return err
			}
			doc, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("push: %w", err)
			}
			info, err := confsig.Inspect(doc)
			if err != nil {
				return fmt.Errorf("push %s: %w", args[0], err)
			}
			now := time.Now()
			if !info.Expires.IsZero() && !now.Before(info.Expires) {
				return fmt.Errorf("push %s: the document expired at %s: every gateway would reject it", args[0], info.Expires.Format(time.RFC3339))
			}
			ids, err := fleet.Recipients(info, gateways)
			if err != nil {
				return usageError{fmt.Errorf("push %s: %w", args[0], err)}
			}
			if !info.NotBefore.IsZero() && now.Before(info.NotBefore) {
				fmt.Fprintf(c.ErrOrStderr(), "warning: %s is not valid before %s; a gateway receiving it earlier rejects it (not-yet-valid)\n",
					args[0], info.NotBefore.Format(time.RFC3339))
			}
			msgs := make([]mqtt.Message, len(ids))
			for i, id := range ids {
				msgs[i] = mqtt.Message{Topic: topic.ConfigSet(f.prefix, id), Payload: doc}
			}
			ctx, cancel := context.WithTimeout(c.Context(), f.timeout)
			defer cancel()
			errs, err := mqtt.PublishRetained(ctx, f.client(), msgs)
			if err != nil {
				return fmt.Errorf("push: %w", err)
			}
			w := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			failed := 0
			for i, id := range ids {
				if errs[i] != nil {
					failed++
					fmt.Fprintf(w, "%s\tFAILED\t%v\n", id, errs[i])
					continue
				}
				fmt.Fprintf(w, "%s\tpublished\t%s v%d, %d bytes, retained on %s\n", id, info.Kind, info.Version, len(doc), msgs[i].Topic)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if failed > 0 {
				return fmt.Errorf("push: %d of %d publishes not confirmed by the broker", failed, len(ids))
			}
			return nil
		},
	}
	f.register(c, 30*time.Second, "how long to wait for the connection and every acknowledgement")
	c.Flags().StringArrayVar(&gateways, "gateway", nil, "recipient gateway id; repeatable (required for a group target)")
	return c
}

// newConfigStatusCmd is `edgegw config status`.
func newConfigStatusCmd() *cobra.Command {
	var f brokerFlags
	var gateways []string
	var asJSON, wide bool
	c := &cobra.Command{
		Use:   "status --broker URL --ca CA --cert CERT --key KEY [--prefix P] [--gateway ID...] [--timeout D] [--wide] [--json]",
		Short: "Show the configuration status the gateways report: running version, state, reason, age",
		Long: `Subscribe to <prefix>/+/config/status (or to the named gateways' topics)
and collect the retained status each gateway publishes, until --timeout passes
or every named gateway answered; then print a table (or JSON with --json).

RUNNING is the version of the configuration the gateway runs, whatever its
state; OFFERED is the version of the document a rejection is about (an older
document refused while a newer version runs, for example). A reason is cut to
72 characters in the table; --wide prints it whole, and --json gives every
member of each gateway's status, the whole reason included.

The exit code is 1 when the subscription could not be made, or when a named
gateway sent no status; a gateway reporting rejected or rolled-back is a
result, not a failure.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if err := checkIDs(gateways); err != nil {
				return err
			}
			slices.Sort(gateways)
			gateways = slices.Compact(gateways)
			clientID := f.clientID
			if clientID == "" {
				var b [6]byte
				rand.Read(b[:])
				clientID = "edgegw-ops-status-" + hex.EncodeToString(b[:])
			}
			rows, err := fleet.CollectStatus(c.Context(), fleet.Collect{
				Client: mqtt.SubscribeConfig{Broker: f.broker, CA: f.ca, Cert: f.cert, Key: f.key, ClientID: clientID,
					// Refused subscriptions and lost connections are warnings.
					Logger: slog.New(slog.NewTextHandler(c.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))},
				Prefix: f.prefix, Gateways: gateways, Timeout: f.timeout,
			})
			if err != nil {
				return err
			}
			if asJSON {
				if err := printJSON(c.OutOrStdout(), rows); err != nil {
					return err
				}
			} else if err := printConfigStatus(c.OutOrStdout(), rows, time.Now(), wide); err != nil {
				return err
			}
			var missing []string
			for _, r := range rows {
				if r.Status == nil && r.Error == "" {
					missing = append(missing, r.Gateway)
				}
			}
			if len(missing) > 0 {
				return fmt.Errorf("status: no status from %s within %v", strings.Join(missing, ", "), f.timeout)
			}
			return nil
		},
	}
	f.register(c, 3*time.Second, "how long to collect statuses (less when every --gateway answered)")
	c.Flags().StringArrayVar(&gateways, "gateway", nil, "show only this gateway; repeatable")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	c.Flags().BoolVar(&wide, "wide", false, "print reasons whole instead of cut to 72 characters")
	return c
}

// printConfigStatus prints rows as a table, ages relative to now, reasons
// cut to 72 characters unless wide. The reason is the last column, so that
// a whole one does not push the others apart.
func printConfigStatus(out io.Writer, rows []fleet.StatusRow, now time.Time, wide bool) error {
	width := 72
	if wide {
		width = 0
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "GATEWAY\tRUNNING\tSTATE\tOFFERED\tAGE\tREASON")
	for _, r := range rows {
		switch {
		case r.Status != nil:
			s := r.Status
			reason, offered := "-", "-"
			if s.Reason != "" {
				reason = oneLine(s.Reason, width)
			}
			if s.Offered != 0 {
				offered = fmt.Sprintf("v%d", s.Offered)
			}
			fmt.Fprintf(w, "%s\tv%d\t%s\t%s\t%s\t%s\n", r.Gateway, s.Version, s.State, offered, agoText(max(0, now.Sub(s.Time)).Truncate(time.Second)), reason)
		case r.Error != "":
			fmt.Fprintf(w, "%s\t-\tinvalid\t-\t-\t%s\n", r.Gateway, oneLine(r.Error, width))
		default:
			fmt.Fprintf(w, "%s\t-\tno status\t-\t-\t-\n", r.Gateway)
		}
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "(no gateway has published a configuration status)\t\t\t\t\t")
	}
	return w.Flush()
}

// oneLine replaces control characters, so that text a gateway sent keeps
// the table intact and cannot drive the terminal, and shortens it to n
// runes (n = 0: whole).
func oneLine(s string, n int) string {
	r := []rune(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s))
	if n > 0 && len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}
