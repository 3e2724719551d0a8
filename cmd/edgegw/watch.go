package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway/control"
)

func newWatchCmd() *cobra.Command {
	var f ctlFlags
	var device string
	c := f.add(&cobra.Command{
		Use:   "watch [--device NAME]",
		Short: "Follow readings live as the agent polls them",
		Long: `Print each poll's readings as the agent makes them, one line per poll,
until interrupted (Ctrl-C):

  15:04:05 env  t=21.53 °C  rh=48.20 %RH  p=1013.25 hPa
  15:04:05 aq-1  pm1=7.9 µg/m³  pm25=12.0 µg/m³ (humid)  pm10=20.3 µg/m³ (humid)

Each value has the precision its unit's devices resolve (°C and %RH 2
decimals, pressure in hPa, ppm whole, µg/m³ 1, V 2, A 3, W whole, kWh 2, Hz
2), then a space and the unit; a reading's quality flags follow it once, in
parentheses; a value the device could not give is printed as "?". With --json
each poll is one JSON object per line (newline-delimited JSON) with the units
of the configuration's SenML (Cel, Pa, ug/m3). The agent drops polls for a
reader that is too slow rather than slow down.

` + channelHelp() + `
Needs the viewer role.`,
		Example: `  edgegw watch
  edgegw watch --device meter-1
  edgegw watch --json | jq -c '.readings[] | {channel, value}'`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			out := c.OutOrStdout()
			err := f.client().Watch(c.Context(), device, func(p control.Poll) error {
				if f.json {
					return printJSONLine(out, p)
				}
				_, err := fmt.Fprintln(out, pollLine(p))
				return err
			})
			if errors.Is(err, control.ErrStreamEnded) {
				return errors.New("watch: the agent ended the stream (did it stop?)")
			}
			return err
		},
	})
	c.Flags().StringVar(&device, "device", "", "follow only this device")
	c.RegisterFlagCompletionFunc("device", completeDevices(&f))
	return c
}

// pollLine formats a poll as one compact line.
func pollLine(p control.Poll) string {
	if len(p.Readings) == 0 {
		return "(empty poll)"
	}
	var b strings.Builder
	b.WriteString(p.Readings[0].Time.Local().Format(time.TimeOnly))
	b.WriteString(" " + p.Readings[0].Device)
	for _, r := range p.Readings {
		fmt.Fprintf(&b, "  %s=%s", r.Channel, r.Reading().Text())
	}
	return b.String()
}
