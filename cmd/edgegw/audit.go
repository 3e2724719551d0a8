package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway/control"
)

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
