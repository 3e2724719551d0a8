//go:build !nodemo && !nobackend

package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway/demo"
)

func init() { optionalCmds = append(optionalCmds, newDemoCmd) }

func newDemoCmd() *cobra.Command {
	o := demo.Options{}
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run broker, agent with simulated devices and backend on this machine, with a broker outage halfway",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.Duration < 10*time.Second {
				return usageError{fmt.Errorf("--duration must be at least 10s")}
			}
			if o.Outage >= o.Duration/2 {
				return usageError{fmt.Errorf("--outage must be shorter than half the duration")}
			}
			o.Out, o.Version = c.OutOrStdout(), version
			o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
			return demo.Run(c.Context(), o)
		},
	}
	c.Flags().DurationVar(&o.Duration, "duration", 30*time.Second, "how long the devices are polled")
	c.Flags().DurationVar(&o.Outage, "outage", 5*time.Second, "how long the broker is stopped")
	c.Flags().BoolVar(&o.Keep, "keep", false, "keep the temporary keys, config and buffer")
	return c
}
