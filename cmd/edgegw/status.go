package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/gateway/fleet"
)

func newStatusCmd() *cobra.Command {
	var f ctlFlags
	return f.add(&cobra.Command{
		Use:   "status",
		Short: "Show the running agent's state on one screen",
		Long: `Show the running agent's state on one screen: gateway id, version,
uptime and configuration version; whether the clock is synchronised; the
uplink (connected since, or disconnected since, the next attempt and the last
error); receipts (the last one the backend signed: when, through which
sequence number and by which ingest key; the batches and readings published
and not yet receipted, the age of the oldest; receipts rejected, by reason);
the buffer (readings and bytes waiting for delivery, age of the oldest, what
was dropped); and a table of the devices with their last good reading, poll
and error counts, quality flags and last error.

Needs the viewer role.`,
		Example: `  edgegw status
  edgegw status --json | jq .buffer.readings
  edgegw status --socket /tmp/edgegw.sock`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := f.client().Status(c.Context())
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(c.OutOrStdout(), st)
			}
			return printStatus(c.OutOrStdout(), st, time.Now())
		},
	})
}

func printStatus(out io.Writer, st control.Status, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Gateway\t%s (edgegw %s), up %s, config version %d\n", st.Gateway, st.Version, time.Duration(st.UptimeSeconds)*time.Second, st.ConfigVersion)
	if c := st.Config; c != nil {
		fmt.Fprintf(w, "Config\t%s (%s)", c.File, originText(c.Origin))
		if c.State != "" {
			fmt.Fprintf(w, ", %s", c.State)
		}
		fmt.Fprintln(w)
		for _, s := range []string{c.Reason, c.Note} {
			if s != "" {
				fmt.Fprintf(w, "\t%s\n", s)
			}
		}
	}
	if st.ClockSynced {
		fmt.Fprintf(w, "Clock\tsynchronised\n")
	} else {
		fmt.Fprintf(w, "Clock\tNOT synchronised: readings are flagged clock-unsynced\n")
	}
	u := st.Uplink
	state := "disconnected"
	if u.Connected {
		state = "connected"
	}
	fmt.Fprintf(w, "Uplink\t%s %s", state, u.Broker)
	if !u.Since.IsZero() {
		fmt.Fprintf(w, " since %s", when(u.Since, now))
	}
	fmt.Fprintf(w, "; published %d, acknowledged %d, reconnects %d\n", u.Published, u.Acknowledged, u.Reconnects)
	if !u.Connected && !u.NextRetry.IsZero() {
		fmt.Fprintf(w, "\tnext attempt %s (in %s)\n", u.NextRetry.Local().Format(time.TimeOnly), agoText(max(0, u.NextRetry.Sub(now).Round(time.Second))))
	}
	if u.LastError != "" {
		fmt.Fprintf(w, "\tlast error: %s\n", u.LastError)
	}
	if u.Takeover != "" {
		fmt.Fprintf(w, "\tWARNING: %s\n", u.Takeover)
	}
	printReceipts(w, u.Receipts, now)
	b := st.Buffer
	fmt.Fprintf(w, "Buffer\t%d readings in %d batches, %s", b.Readings, b.Batches, bytesText(b.Bytes))
	if b.Readings > 0 || b.Batches > 0 {
		fmt.Fprintf(w, "; oldest unsent %s", time.Duration(b.OldestUnsentAge)*time.Second)
	}
	fmt.Fprintf(w, "\n\tdropped %d readings in %d batches\n", b.DroppedReadings, b.DroppedBatches)
	if st.BufferRecovered != "" {
		fmt.Fprintf(w, "\trecovered at start: %s\n", st.BufferRecovered)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DEVICE\tDRIVER\tSTATE\tINTERVAL\tLAST OK\tPOLLS\tERRORS\tFLAGS\tLAST ERROR")
	for _, d := range st.Devices {
		state, last, flags := "enabled", "never", "-"
		if !d.Enabled {
			state = "disabled"
		}
		if !d.LastOK.IsZero() {
			last = when(d.LastOK, now)
		}
		if len(d.Flags) > 0 {
			flags = strings.Join(d.Flags, ",")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", d.Name, d.Driver, state, d.Interval, last, d.Polls, d.Errors, flags, d.LastError)
	}
	return w.Flush()
}

// originText says where a running configuration comes from.
func originText(origin string) string {
	if origin == fleet.OriginApplied {
		return "applied by a fleet push or config apply"
	}
	return "the operator's file"
}

// printReceipts writes the Receipts lines of the status.
func printReceipts(w io.Writer, r *control.ReceiptStatus, now time.Time) {
	if r == nil {
		fmt.Fprintf(w, "Receipts\toff: batches are deleted on the broker's PUBACK (pin the ingest key in uplink.receipts)\n")
		return
	}
	if l := r.Last; l != nil {
		fmt.Fprintf(w, "Receipts\tlast %s through %d (highest %d) by %s\n", when(l.Received, now), l.Through, l.Highest, l.Signer)
	} else {
		fmt.Fprintf(w, "Receipts\tnone accepted yet\n")
	}
	fmt.Fprintf(w, "\t%d readings in %d batches unreceipted", r.UnreceiptedReadings, r.UnreceiptedBatches)
	if r.UnreceiptedBatches > 0 {
		fmt.Fprintf(w, ", oldest published %s ago", agoText(time.Duration(r.OldestUnreceiptedAge)*time.Second))
	}
	fmt.Fprintf(w, "; %d batches receipted, %d published again (after %s)\n", r.ReceiptedBatches, r.Republished, time.Duration(r.TimeoutSeconds)*time.Second)
	if len(r.Rejected) > 0 {
		var reasons []string
		for _, reason := range slices.Sorted(maps.Keys(r.Rejected)) {
			reasons = append(reasons, fmt.Sprintf("%s %d", reason, r.Rejected[reason]))
		}
		fmt.Fprintf(w, "\treceipts rejected: %s\n", strings.Join(reasons, ", "))
	}
}

// when formats t with how long ago it was.
func when(t, now time.Time) string {
	ago := now.Sub(t).Round(time.Second)
	if ago < 0 {
		return t.Local().Format(time.DateTime)
	}
	return fmt.Sprintf("%s (%s ago)", t.Local().Format(time.DateTime), agoText(ago))
}

// agoText shortens a duration for people: 42s, 5m10s, 3h4m, 12d.
func agoText(d time.Duration) string {
	switch {
	case d < time.Hour:
		return d.String()
	case d < 48*time.Hour:
		return d.Truncate(time.Minute).String()[:len(d.Truncate(time.Minute).String())-2]
	}
	return fmt.Sprintf("%dd", d/(24*time.Hour))
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
