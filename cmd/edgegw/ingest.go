//go:build (!nodemo || backend) && !nobackend

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
	var gateway string
	var asJSON, debug bool
	run := ingestConfigCmd("run --config ingest.yaml", "Subscribe (shared subscription), commit to the database and publish receipts until stopped", noArgs,
		func(c *cobra.Command, cfg ingest.Config, _ []string) error {
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			return ingest.Serve(c.Context(), cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
		})
	run.Flags().BoolVar(&debug, "debug", false, "log every receipt")
	migrate := ingestConfigCmd("migrate --config ingest.yaml", "Create or upgrade the database schema (explicit, versioned; never done by run)", noArgs,
		func(c *cobra.Command, cfg ingest.Config, _ []string) error {
			return ingest.Migrate(c.Context(), cfg.Database, c.OutOrStdout())
		})
	gaps := ingestConfigCmd("gaps --config ingest.yaml [--gateway ID] [--json]", "List missing sequence numbers per gateway with their cause", noArgs,
		func(c *cobra.Command, cfg ingest.Config, _ []string) error {
			return ingest.PrintGaps(c.Context(), cfg.Database, gateway, asJSON, c.OutOrStdout())
		})
	gaps.Flags().StringVar(&gateway, "gateway", "", "only this gateway")
	status := ingestConfigCmd("status --config ingest.yaml [--json]", "What the database holds: gateways, batches, readings, gap records, rejects", noArgs,
		func(c *cobra.Command, cfg ingest.Config, _ []string) error {
			return ingest.PrintStatus(c.Context(), cfg.Database, asJSON, c.OutOrStdout())
		})
	for _, sub := range []*cobra.Command{gaps, status} {
		sub.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	}
	c.AddCommand(run, migrate, gaps, status)
	return c
}

// ingestConfigCmd is a subcommand of the backend that loads the ingest
// configuration named by its --config flag and calls run with it.
func ingestConfigCmd(use, short string, args cobra.PositionalArgs, run func(c *cobra.Command, cfg ingest.Config, args []string) error) *cobra.Command {
	var path string
	sub := &cobra.Command{Use: use, Short: short, Args: args, RunE: func(c *cobra.Command, a []string) error {
		cfg, err := ingest.LoadConfig(path)
		if err != nil {
			return err
		}
		return run(c, cfg, a)
	}}
	sub.Flags().StringVar(&path, "config", "/etc/edgegw-ingest/ingest.yaml", "ingest configuration file")
	return sub
}
