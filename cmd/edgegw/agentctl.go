package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway/config"
	"github.com/edgegw/edgegw/gateway/control"
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
