package main

import (
	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/gateway/control"
)

func newReadCmd() *cobra.Command {
	var f ctlFlags
	c := f.add(&cobra.Command{
		Use:   "read DEVICE",
		Short: "Poll one device now and print its readings",
		Long: `Poll one configured device now, outside its schedule, and print its
readings: channel, value, unit, quality flags and time. The readings also go
into the buffer like any other poll. Use it while commissioning to check the
wiring of a sensor or meter; "edgegw status" lists the device names.

Needs the technician role; the read is recorded in the audit trail.`,
		Example: `  edgegw read aq-1
  edgegw read meter-1 --json`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			rs, err := f.client().Read(c.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(c.OutOrStdout(), control.Poll{Readings: rs})
			}
			readings := make([]reading.Reading, len(rs))
			for i, r := range rs {
				readings[i] = r.Reading()
			}
			return printReadingTable(c.OutOrStdout(), readings, true)
		},
	})
	c.ValidArgsFunction = completeDevices(&f)
	return c
}
