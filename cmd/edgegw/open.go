//go:build (!nodemo || backend) && !nobackend

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/mqtt/topic"
)

func init() { optionalCmds = append(optionalCmds, newOpenCmd) }

func newOpenCmd() *cobra.Command {
	var o backend.Options
	var prefix string
	var trustFiles, keyFiles []string
	c := &cobra.Command{
		Use:   "open --trust GW.pub... --recipient-key recipient.key... (--broker URL --ca --cert --key | --dir EXPORT | FILE...)",
		Short: "Receive envelopes, verify, open and print one JSON object per reading (the backend side)",
		RunE: func(c *cobra.Command, files []string) error {
			if len(trustFiles) == 0 || len(keyFiles) == 0 {
				return usageError{fmt.Errorf("--trust and --recipient-key are required")}
			}
			if len(files) == 0 && len(o.Dirs) == 0 && o.Subscribe.Broker == "" {
				return usageError{fmt.Errorf("give --broker to subscribe, --dir for a buffer export, or envelope files")}
			}
			trust, err := envelope.LoadTrust(trustFiles...)
			if err != nil {
				return err
			}
			var rks []*keys.RecipientPrivate
			for _, f := range keyFiles {
				k, err := keys.LoadRecipientPrivate(f)
				if err != nil {
					return err
				}
				rks = append(rks, k)
			}
			o.Files = files
			if len(o.Subscribe.Topics) == 0 {
				o.Subscribe.Topics = topic.Filters(prefix, "", topic.KindData, topic.KindAudit)
			}
			sum, err := backend.Open(c.Context(), backend.NewReceiver(trust, rks...), o, c.OutOrStdout(), c.ErrOrStderr())
			fmt.Fprintln(c.ErrOrStderr(), "open:", sum)
			return err
		},
	}
	f := c.Flags()
	f.StringArrayVar(&trustFiles, "trust", nil, "trusted gateway public key file (identity.pub); repeatable")
	f.StringArrayVar(&keyFiles, "recipient-key", nil, "recipient private key file; repeatable")
	f.StringVar(&o.Subscribe.Broker, "broker", "", "broker URL, ssl://host:port")
	f.StringArrayVar(&o.Dirs, "dir", nil, "a buffer export (edgegw buffer export) to open instead of subscribing; repeatable")
	f.StringVar(&o.Subscribe.CA, "ca", "", "CA bundle pinned for the broker")
	f.StringVar(&o.Subscribe.Cert, "cert", "", "client certificate")
	f.StringVar(&o.Subscribe.Key, "key", "", "client private key")
	f.StringVar(&o.Subscribe.ClientID, "client-id", "edgegw-open", "MQTT client id of the persistent session")
	f.BoolVar(&o.Subscribe.CleanSession, "clean-session", false, "start without the broker's stored session (may lose what was queued)")
	f.StringArrayVar(&o.Subscribe.Topics, "topic", nil, "topic filter (default <prefix>/+/data/# and <prefix>/+/audit; $share/GROUP/... for replicas)")
	f.StringVar(&prefix, "prefix", "city", "topic prefix")
	f.Uint64Var(&o.Count, "count", 0, "stop after N readings (0 = no limit)")
	f.DurationVar(&o.Timeout, "timeout", 0, "stop after this long (0 = until interrupted)")
	return c
}
