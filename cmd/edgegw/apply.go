package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// newConfigApplyCmd is `edgegw config apply FILE`, under `edgegw config`.
func newConfigApplyCmd() *cobra.Command {
	var f ctlFlags
	return f.add(&cobra.Command{
		Use:   "apply FILE",
		Short: "Apply a configuration file to the running agent (local override, admin)",
		Long: `Apply a configuration file to the running agent as a local override. The
agent checks it as ` + "`edgegw config validate`" + ` does (its version must be above the
running one), writes it as given to <gateway.state>/config/applied.yaml (the
operator's file in /etc is never written), restarts its drivers and uplink
without touching the buffer, and holds it on probation like a pushed
configuration: if it does not reach the broker and poll every device in time,
the agent rolls back by itself. Fleet operations see the new version and hash
in the gateway's config status.

Needs the admin role (root or group edgegw-admin); recorded in the audit trail.`,
		Example: `  sudo edgegw config apply /tmp/edgegw.yaml`,
		Args:    exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			yaml, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			v, err := f.client().ApplyConfig(c.Context(), yaml)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(c.OutOrStdout(), map[string]any{"version": v, "state": "probation"})
			}
			_, err = fmt.Fprintf(c.OutOrStdout(), "configuration version %d applied; on probation (edgegw status shows the devices)\n", v)
			return err
		},
	})
}
