package main

import (
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/config"
	"github.com/edgegw/edgegw/gateway/fleet"
)

func newRunCmd() *cobra.Command {
	var path string
	var drain time.Duration
	c := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the agent until SIGTERM or SIGINT",
		Long: `Run the agent until SIGTERM or SIGINT: poll the devices, seal and sign
their readings, buffer them and forward them to the broker. With
uplink.receipts set, a batch leaves the buffer only when the backend's signed
receipt says the city's database committed it; without, on the broker's
PUBACK (the log says so at start).

It refuses to start when the client certificate's CN is not gateway.id: the
broker knows the gateway by that name, and its ACL would drop everything.

With fleet.trust set, the agent applies configurations signed by fleet
operations and pushed on <prefix>/<id>/config/set: it verifies them, writes
them as signed to <gateway.state>/config/applied.yaml (FILE itself is never
written), restarts its drivers and uplink without touching the buffer, and
rolls back by itself to <gateway.state>/config/last-good.yaml when the new
configuration does not reach the broker and poll every device within
fleet.probation. Its state is published on <prefix>/<id>/config/status.

The applied configuration runs when its version is higher than FILE's;
otherwise FILE runs. ` + "`edgegw status`" + ` and ` + "`edgegw doctor`" + ` say which.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			level := new(slog.LevelVar)
			if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			r := &fleet.Runner{Path: path, Deps: gateway.Deps{Logger: log, LogLevel: level, Version: version, DrainOnStop: drain}}
			return r.Run(c.Context())
		},
	}
	c.Flags().StringVarP(&path, "config", "c", "/etc/edgegw/edgegw.yaml", "configuration file")
	c.Flags().DurationVar(&drain, "drain", 3*time.Second, "on SIGTERM, keep publishing up to this long while the buffer is not empty")
	return c
}
