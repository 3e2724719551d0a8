package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/gateway/config"
	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/gateway/fleet"
)

// socketHelp ends the long help of every command that talks to the agent.
const socketHelp = `
The command talks to the running agent over its control socket (--socket,
default ` + control.DefaultSocket + `, or control.socket of the file given with
--config). The agent decides what the
caller may do from the caller's uid and groups, as the kernel reports them:

  viewer      members of group edgegw: status, watch, audit, buffer stats
  technician  members of group edgegw-tech: also read, buffer flush,
              log-level, device enable/disable
  admin       root, or members of group edgegw-admin: everything

Everyone needs group edgegw (or root) to open the socket at all. Every change
and every refused call is written to the audit trail (see "edgegw audit").
With --json the command prints JSON instead of text, for scripts.

Exit status: 0 on success, 1 on failure (agent not running, permission
denied, unknown device), 2 on a bad command line.
`

// verbOnly runs a command that only groups others: it shows the help, or
// refuses an unknown verb as a usage error.
func verbOnly(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		c.PrintErrln(c.UsageString())
		return usageError{fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath())}
	}
	return c.Help()
}

// ctlFlags are the flags every control command has.
type ctlFlags struct {
	socket string
	config string
	json   bool
}

func (f *ctlFlags) add(c *cobra.Command) *cobra.Command {
	c.Flags().StringVar(&f.socket, "socket", control.DefaultSocket, "control socket of the running agent")
	c.Flags().StringVarP(&f.config, "config", "c", "", "take the socket path from this configuration file (control.socket)")
	c.PreRunE = f.resolve
	c.Flags().BoolVar(&f.json, "json", false, "print JSON instead of text")
	c.Long = strings.TrimSpace(c.Long) + "\n" + socketHelp
	return c
}

func (f *ctlFlags) client() *control.Client { return control.Dial(f.socket) }

// resolve takes the socket path from --config when it is given.
func (f *ctlFlags) resolve(*cobra.Command, []string) error {
	if f.config == "" {
		return nil
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return err
	}
	f.socket = cfg.Control.Socket
	return nil
}

// completeDevices completes a device name from the running agent's status.
func completeDevices(f *ctlFlags) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(c *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 && c.Flags().Lookup("device") == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(c.Context(), 2*time.Second)
		defer cancel()
		st, err := f.client().Status(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, d := range st.Devices {
			names = append(names, d.Name+"\t"+d.Driver)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// newControlCmds returns the commands that talk to the running agent.
func newControlCmds() []*cobra.Command {
	return []*cobra.Command{
		newStatusCmd(), newWatchCmd(), newReadCmd(), newAuditCmd(),
		newBufferCmd(), newLogLevelCmd(), newDeviceCmd(), newWhoAmICmd(),
	}
}

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

func newAuditCmd() *cobra.Command {
	var f ctlFlags
	var limit int
	c := f.add(&cobra.Command{
		Use:   "audit [--limit N]",
		Short: "Show the local audit trail",
		Long: `Show the newest entries of the agent's audit trail, oldest first: every
call that changed something (recorded once when it starts and once with its
outcome) and every refused call, with the caller's uid, gid, pid, process
name and role, the action, its arguments and its result. The same trail is
forwarded upstream, signed.

Needs the viewer role.`,
		Example: `  edgegw audit
  edgegw audit --limit 500 --json | jq '.[] | select(.result | startswith("denied"))'`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if limit < 1 || limit > control.MaxAuditLimit {
				return usageError{fmt.Errorf("--limit must be from 1 to %d", control.MaxAuditLimit)}
			}
			events, err := f.client().Audit(c.Context(), limit)
			if err != nil {
				return err
			}
			if f.json {
				if events == nil {
					events = []control.Event{}
				}
				return printJSON(c.OutOrStdout(), events)
			}
			w := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TIME\tUID\tGID\tPID\tPROCESS\tROLE\tACTION\tARGS\tRESULT")
			for _, e := range events {
				var args []string
				for k, v := range e.Args {
					args = append(args, k+"="+v)
				}
				slices.Sort(args)
				a := strings.Join(args, " ")
				if a == "" {
					a = "-"
				}
				fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime), e.UID, e.GID, e.PID, e.Process, e.Role, e.Action, a, e.Result)
			}
			return w.Flush()
		},
	})
	c.Flags().IntVar(&limit, "limit", control.DefaultAuditLimit, fmt.Sprintf("number of newest entries to show, 1..%d", control.MaxAuditLimit))
	return c
}

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

func newLogLevelCmd() *cobra.Command {
	var f ctlFlags
	return f.add(&cobra.Command{
		Use:   "log-level LEVEL",
		Short: "Change the agent's log level (debug, info, warn, error) until it restarts",
		Long: `Change the running agent's log level to debug, info, warn or error. The
change lasts until the agent restarts, which goes back to the configured
level (log.level). Debug logs every poll: turn it back when done.

Needs the technician role; recorded in the audit trail.`,
		Example: `  edgegw log-level debug
  journalctl -u edgegw -f
  edgegw log-level info`,
		Args:      exactArgs(1),
		ValidArgs: control.LogLevels,
		RunE: func(c *cobra.Command, args []string) error {
			if !slices.Contains(control.LogLevels, args[0]) {
				return usageError{fmt.Errorf("log level %q: want debug, info, warn or error", args[0])}
			}
			if err := f.client().SetLogLevel(c.Context(), args[0]); err != nil {
				return err
			}
			if f.json {
				return printJSON(c.OutOrStdout(), map[string]string{"level": args[0]})
			}
			_, err := fmt.Fprintf(c.OutOrStdout(), "log level set to %s until the agent restarts\n", args[0])
			return err
		},
	})
}

func newDeviceCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "device",
		Short: "Stop or resume polling a device",
		Long: `Stop or resume polling one configured device, for example while replacing
a sensor. The change lasts until the agent restarts or a new configuration is
applied.`,
		Args: cobra.ArbitraryArgs,
		RunE: verbOnly,
	}
	for _, enable := range []bool{true, false} {
		var f ctlFlags
		op, short, long := "enable", "Resume polling a device", "Resume polling a device stopped with \"edgegw device disable\"."
		if !enable {
			op, short, long = "disable", "Stop polling a device", "Stop polling a device until \"edgegw device enable\" or a restart; its\nreadings stop and \"edgegw status\" shows it disabled."
		}
		sub := f.add(&cobra.Command{
			Use:     op + " NAME",
			Short:   short,
			Long:    long + "\n\nNeeds the technician role; recorded in the audit trail.",
			Example: "  edgegw device " + op + " aq-1",
			Args:    exactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				if err := f.client().SetDeviceEnabled(c.Context(), args[0], enable); err != nil {
					return err
				}
				if f.json {
					return printJSON(c.OutOrStdout(), control.DeviceState{Device: args[0], Enabled: enable})
				}
				_, err := fmt.Fprintf(c.OutOrStdout(), "%s %sd\n", args[0], op)
				return err
			},
		})
		sub.ValidArgsFunction = completeDevices(&f)
		c.AddCommand(sub)
	}
	return c
}

// newConfigApplyCmd is `edgegw config apply FILE`, under `edgegw config`.
func newConfigApplyCmd() *cobra.Command {
	var f ctlFlags
	return f.add(&cobra.Command{
		Use:   "apply FILE",
		Short: "Apply a configuration file to the running agent (local override, admin)",
		Long: `Apply a configuration file to the running agent as a local override. The
agent checks it as ` + "`edgegw config validate`" + ` does (its version must be above the
running one), writes it as given to <gateway.state>/config/applied.yaml (the
operator's file in /etc is never written), restarts its drivers and uplink
without touching the buffer, and holds it on probation like a pushed
configuration: if it does not reach the broker and poll every device in time,
the agent rolls back by itself. Fleet operations see the new version and hash
in the gateway's config status.

Needs the admin role (root or group edgegw-admin); recorded in the audit trail.`,
		Example: `  sudo edgegw config apply /tmp/edgegw.yaml`,
		Args:    exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			yaml, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			v, err := f.client().ApplyConfig(c.Context(), yaml)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(c.OutOrStdout(), map[string]any{"version": v, "state": "probation"})
			}
			_, err = fmt.Fprintf(c.OutOrStdout(), "configuration version %d applied; on probation (edgegw status shows the devices)\n", v)
			return err
		},
	})
}
