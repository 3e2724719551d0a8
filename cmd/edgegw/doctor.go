package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/doctor"
)

func newDoctorCmd() *cobra.Command {
	var o doctor.Options
	var asJSON bool
	c := &cobra.Command{
		Use:   "doctor [--config FILE] [--json]",
		Short: "Check this box's setup and explain each finding (pass/warn/fail with a fix)",
		Long: `Doctor checks, in order: the configuration; the identity, TLS, recipient and
receipt key files and their modes; the client certificate (chain to the pinned
CA, CN equal to the gateway id, more than 30 days left); the clock; the broker
(DNS, TCP, TLS handshake with the gateway's own certificate and an MQTT
CONNECT, which fails when the broker refuses the certificate); the running
agent's receipts (the last one, what is unreceipted, rejections by reason, and
the likely cause when batches stay unreceipted past uplink.receipt_timeout);
each configured bus or port (exists, accessible: names the group to join);
each device (one poll, when the agent is not running); free disk space for
the buffer; and that the running agent listens on no TCP or UDP port.

The running agent is the edgegw run process holding the configuration's
control socket, or else one started with the same --config file.

It exits 1 when any check fails. Run it as the service user (or root) to see
what the agent sees:

  sudo -u edgegw edgegw doctor --config /etc/edgegw/edgegw.yaml`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.Synced = gateway.ClockSynced
			results := doctor.Run(c.Context(), o)
			failed := 0
			if asJSON {
				for _, r := range results {
					if r.Status == doctor.Fail {
						failed++
					}
				}
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return err
				}
			} else {
				failed = doctor.Report(c.OutOrStdout(), results)
			}
			if failed > 0 {
				return fmt.Errorf("doctor: %d of %d checks failed", failed, len(results))
			}
			return nil
		},
	}
	c.Flags().StringVarP(&o.Config, "config", "c", "/etc/edgegw/edgegw.yaml", "configuration file")
	c.Flags().DurationVar(&o.Timeout, "timeout", 0, "bound of each network or device check (default 5s)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	return c
}
