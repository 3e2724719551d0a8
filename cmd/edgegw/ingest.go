//go:build !nodemo && !nobackend

package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/backend/ingest"
)

func init() { optionalCmds = append(optionalCmds, newIngestCmd) }

// newIngestCmd is `edgegw ingest`: the backend service that stores what the
// gateways send and tells them with signed receipts.
func newIngestCmd() *cobra.Command {
	c := &cobra.Command{Use: "ingest", Short: "The backend service: verify, open and store envelopes in a database, send signed receipts", Args: noArgs}
	var cfgPath, gateway string
	var asJSON, debug bool
	load := func() (ingest.Config, error) { return ingest.LoadConfig(cfgPath) }
	run := &cobra.Command{
		Use:   "run --config ingest.yaml",
		Short: "Subscribe (shared subscription), commit to the database and publish receipts until stopped",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			return ingest.Serve(c.Context(), cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
		},
	}
	run.Flags().BoolVar(&debug, "debug", false, "log every receipt")
	migrate := &cobra.Command{
		Use:   "migrate --config ingest.yaml",
		Short: "Create or upgrade the database schema (explicit, versioned; never done by run)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			return ingest.Migrate(c.Context(), cfg.Database, c.OutOrStdout())
		},
	}
	gaps := &cobra.Command{
		Use:   "gaps --config ingest.yaml [--gateway ID] [--json]",
		Short: "List missing sequence numbers per gateway with their cause",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			return ingest.PrintGaps(c.Context(), cfg.Database, gateway, asJSON, c.OutOrStdout())
		},
	}
	gaps.Flags().StringVar(&gateway, "gateway", "", "only this gateway")
	status := &cobra.Command{
		Use:   "status --config ingest.yaml [--json]",
		Short: "What the database holds: gateways, batches, readings, gap records, rejects",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			return ingest.PrintStatus(c.Context(), cfg.Database, asJSON, c.OutOrStdout())
		},
	}
	for _, sub := range []*cobra.Command{run, migrate, gaps, status} {
		sub.Flags().StringVar(&cfgPath, "config", "/etc/edgegw-ingest/ingest.yaml", "ingest configuration file")
	}
	for _, sub := range []*cobra.Command{gaps, status} {
		sub.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	}
	c.AddCommand(run, migrate, gaps, status)
	return c
}
