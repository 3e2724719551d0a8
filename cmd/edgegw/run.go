package main

import (
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/config"
)

func newRunCmd() *cobra.Command {
	var path string
	var drain time.Duration
	c := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the agent until SIGTERM or SIGINT",
		Args:  noArgs,
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
			a, err := gateway.New(cfg, gateway.Deps{Logger: log, LogLevel: level, Version: version, DrainOnStop: drain})
			if err != nil {
				return err
			}
			return a.Run(c.Context())
		},
	}
	c.Flags().StringVarP(&path, "config", "c", "/etc/edgegw/edgegw.yaml", "configuration file")
	c.Flags().DurationVar(&drain, "drain", 3*time.Second, "on SIGTERM, keep publishing up to this long while the buffer is not empty")
	return c
}
