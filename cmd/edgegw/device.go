package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway/control"
)

func newDeviceCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "device",
		Short: "Stop or resume polling a device",
		Long: `Stop or resume polling one configured device, for example while replacing
a sensor. The change lasts until the agent restarts or a new configuration is
applied.`,
		Args: cobra.ArbitraryArgs,
		RunE: verbOnly,
	}
	for _, enable := range []bool{true, false} {
		var f ctlFlags
		op, short, long := "enable", "Resume polling a device", "Resume polling a device stopped with \"edgegw device disable\"."
		if !enable {
			op, short, long = "disable", "Stop polling a device", "Stop polling a device until \"edgegw device enable\" or a restart; its\nreadings stop and \"edgegw status\" shows it disabled."
		}
		sub := f.add(&cobra.Command{
			Use:     op + " NAME",
			Short:   short,
			Long:    long + "\n\nNeeds the technician role; recorded in the audit trail.",
			Example: "  edgegw device " + op + " aq-1",
			Args:    exactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				if err := f.client().SetDeviceEnabled(c.Context(), args[0], enable); err != nil {
					return err
				}
				if f.json {
					return printJSON(c.OutOrStdout(), control.DeviceState{Device: args[0], Enabled: enable})
				}
				_, err := fmt.Fprintf(c.OutOrStdout(), "%s %sd\n", args[0], op)
				return err
			},
		})
		sub.ValidArgsFunction = completeDevices(&f)
		c.AddCommand(sub)
	}
	return c
}
