package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway/control"
)

// newWhoAmICmd is `edgegw whoami`: how the running agent sees the caller.
func newWhoAmICmd() *cobra.Command {
	var f ctlFlags
	return f.add(&cobra.Command{
		Use:   "whoami",
		Short: "Show the role the running agent gives you (from your uid and groups)",
		Long: `Show how the running agent sees you over its control socket: the uid, gid
and process it read from the kernel, and the role they give (admin, technician,
viewer, or none). A group added with usermod counts from your next login.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			who, err := f.client().WhoAmI(c.Context())
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(c.OutOrStdout(), who)
			}
			hint := ""
			if who.Role == control.RoleNone.String() {
				hint = "; join group edgegw (viewer), edgegw-tech or edgegw-admin, then log in again"
			}
			_, err = fmt.Fprintf(c.OutOrStdout(), "role %s: uid %d, gid %d, process %s (pid %d)%s\n", who.Role, who.UID, who.GID, who.Process, who.PID, hint)
			return err
		},
	})
}
