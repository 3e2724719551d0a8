package main

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway/control"
)

func newLogLevelCmd() *cobra.Command {
	var f ctlFlags
	return f.add(&cobra.Command{
		Use:   "log-level LEVEL",
		Short: "Change the agent's log level (debug, info, warn, error) until it restarts",
		Long: `Change the running agent's log level to debug, info, warn or error. The
change lasts until the agent restarts, which goes back to the configured
level (log.level). Debug logs every poll: turn it back when done.

Needs the technician role; recorded in the audit trail.`,
		Example: `  edgegw log-level debug
  journalctl -u edgegw -f
  edgegw log-level info`,
		Args:      exactArgs(1),
		ValidArgs: control.LogLevels,
		RunE: func(c *cobra.Command, args []string) error {
			if !slices.Contains(control.LogLevels, args[0]) {
				return usageError{fmt.Errorf("log level %q: want debug, info, warn or error", args[0])}
			}
			if err := f.client().SetLogLevel(c.Context(), args[0]); err != nil {
				return err
			}
			if f.json {
				return printJSON(c.OutOrStdout(), map[string]string{"level": args[0]})
			}
			_, err := fmt.Fprintf(c.OutOrStdout(), "log level set to %s until the agent restarts\n", args[0])
			return err
		},
	})
}
