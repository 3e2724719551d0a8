//go:build (!nodemo || backend) && !nobackend

package main

import (
	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/ingest"
)

func init() { optionalCmds = append(optionalCmds, newFleetViewCmd) }

// newFleetViewCmd is `edgegw fleet`: the state of every gateway, computed
// from what `edgegw ingest` stored.
func newFleetViewCmd() *cobra.Command {
	c := &cobra.Command{Use: "fleet", Short: "The state of every gateway, from what the ingest database holds", Args: noArgs}
	var state, group string
	var asJSON bool
	status := ingestConfigCmd("status --config ingest.yaml [--state S] [--group G] [--json]",
		"Counts by state, version and config version, then the worst gateways first with their reason", noArgs,
		func(c *cobra.Command, cfg ingest.Config, _ []string) error {
			filter := fleet.Filter{Group: group}
			if state != "" {
				var err error
				if filter.State, err = fleet.ParseState(state); err != nil {
					return usageError{err}
				}
			}
			return ingest.FleetStatus(c.Context(), cfg, filter, asJSON, c.OutOrStdout())
		})
	status.Flags().StringVar(&state, "state", "", "only gateways in this state (OK, DEGRADED, CONFIG, BACKLOG, DATA-GAP, SILENT, OFFLINE)")
	status.Flags().StringVar(&group, "group", "", "only gateways of this group")
	show := ingestConfigCmd("show GATEWAY --config ingest.yaml [--json]",
		"One gateway: its state and reason, devices, gaps, configuration history, last readings", cobra.ExactArgs(1),
		func(c *cobra.Command, cfg ingest.Config, args []string) error {
			return ingest.FleetShow(c.Context(), cfg, args[0], asJSON, c.OutOrStdout())
		})
	for _, sub := range []*cobra.Command{status, show} {
		sub.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	}
	c.AddCommand(status, show)
	return c
}
