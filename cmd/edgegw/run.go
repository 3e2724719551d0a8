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
			log := newLogger(cfg.Log.Level)
			a, err := gateway.New(cfg, gateway.Deps{Logger: log, Version: version, DrainOnStop: drain})
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

// newLogger returns a text logger on stderr at the given level name.
func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
