package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/gateway/control"
)

func newBufferCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "buffer",
		Short: "Inspect or flush the store-and-forward buffer",
		Long: `Inspect or flush the store-and-forward buffer, where sealed readings wait
until the broker has acknowledged them.`,
		Args: cobra.ArbitraryArgs,
		RunE: verbOnly,
	}
	var stats, flush, export ctlFlags
	var exportTo string
	c.AddCommand(stats.add(&cobra.Command{
		Use:   "stats",
		Short: "Show what the buffer holds",
		Long: `Show what the buffer holds: readings, batches and bytes waiting for the
broker, the age of the oldest, and how many were dropped because the buffer's
size or age limit was reached (each drop is reported upstream as a gap).

Needs the viewer role.`,
		Example: `  edgegw buffer stats
  edgegw buffer stats --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := stats.client().Status(c.Context())
			if err != nil {
				return err
			}
			return printBuffer(c.OutOrStdout(), st.Buffer, stats.json)
		},
	}), flush.add(&cobra.Command{
		Use:   "flush",
		Short: "Close the open batches now so that they are published",
		Long: `Close the open batches now instead of at their size or time limit, so
that they are signed and published at once (when the uplink is up), and show
the buffer afterwards. Use it before powering a box down for maintenance.

Needs the technician role; recorded in the audit trail.`,
		Example: `  edgegw buffer flush`,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			b, err := flush.client().Flush(c.Context())
			if err != nil {
				return err
			}
			if !flush.json {
				fmt.Fprint(c.OutOrStdout(), "flushed; ")
			}
			return printBuffer(c.OutOrStdout(), b, flush.json)
		},
	}), newExportCmd(&export, &exportTo))
	return c
}

// newExportCmd builds `buffer export`.
func newExportCmd(export *ctlFlags, exportTo *string) *cobra.Command {
	c := export.add(&cobra.Command{
		Use:   "export --to DIR",
		Short: "Copy the sealed backlog to a directory (a USB stick) for the backend",
		Long: `Copy every closed batch in the buffer, as the envelope that would be
published, into DIR/<gateway>-<time>/, with a manifest signed by the gateway
listing their sequence numbers. Use it when the uplink has been down for days:
carry the stick to the backend, which runs

  edgegw open --trust gw.pub --recipient-key r.key --dir /media/usb/<gateway>-<time>

The envelopes are sealed and signed: the stick reveals nothing and nothing on
it can be altered unnoticed. The batches stay in the buffer and are published
when the uplink returns; the backend counts each sequence number once, so
nothing is lost or counted twice. Run 'edgegw buffer flush' first to include
the batches still open.

Needs the technician role; recorded in the audit trail.`,
		Example: `  edgegw buffer flush && edgegw buffer export --to /media/usb`,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if *exportTo == "" {
				return usageError{fmt.Errorf("--to DIR is required")}
			}
			cl := export.client()
			st, err := cl.Status(c.Context())
			if err != nil {
				return err
			}
			dir, err := backend.NewExportDir(*exportTo, st.Gateway, time.Now().UTC().Format("20060102T150405Z"))
			if err != nil {
				return err
			}
			manifest, err := cl.Export(c.Context(), func(b control.ExportedBatch) error { return dir.Add(b.Seq, b.Class, b.Envelope) })
			if err != nil {
				return err
			}
			n, err := dir.Finish(manifest)
			if err != nil {
				return err
			}
			if export.json {
				return printJSON(c.OutOrStdout(), map[string]any{"dir": dir.Path, "batches": n})
			}
			_, err = fmt.Fprintf(c.OutOrStdout(), "exported %d batches to %s\n", n, dir.Path)
			return err
		},
	})
	c.Flags().StringVar(exportTo, "to", "", "directory to export into (a mounted USB stick)")
	return c
}

func printBuffer(out io.Writer, b control.BufferStatus, asJSON bool) error {
	if asJSON {
		return printJSON(out, b)
	}
	_, err := fmt.Fprintf(out, "%d readings in %d batches (%s) waiting for delivery, oldest %s; dropped %d readings in %d batches\n",
		b.Readings, b.Batches, bytesText(b.Bytes), time.Duration(b.OldestUnsentAge)*time.Second, b.DroppedReadings, b.DroppedBatches)
	return err
}
