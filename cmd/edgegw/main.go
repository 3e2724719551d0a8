// Command edgegw is the edge gateway agent for smart-city junction boxes and
// the tools around it: key generation, configuration validation, the
// backend's open-and-verify side, a self test and a one-command demo.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	_ "github.com/edgegw/edgegw/drivers/all" // link the device drivers
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// optionalCmds are the commands a build may leave out, each added by its
// file's init: those only the full build has (demo.go, ingest.go, fleet.go,
// open.go, gendocs.go), since a gateway's production build, with the tag
// nodemo (make build-prod), carries no demo, no emulators, no embedded
// broker and no database drivers, while the tag backend (the package
// edgegw-backend: -tags nodemo,backend) adds back ingest, fleet and open;
// and `modbus` (modbus.go), which a custom build without the modbusmeter
// driver leaves out with it.
var optionalCmds []func() *cobra.Command

// usageError marks a bad command line: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "edgegw:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is 0 for success, 2 for a bad command line (unknown command or
// flag, wrong arguments) and 1 for any other failure.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "unknown command"):
		return 2
	}
	return 1
}

// newRoot builds the command tree.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "edgegw",
		Short:         "Edge gateway agent: polls sensors and meters, signs and seals readings, forwards them over MQTT",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		c.PrintErrln(c.UsageString())
		return usageError{err}
	})
	root.AddCommand(newRunCmd(), newConfigCmd(), newKeysCmd(), newSelftestCmd(), newDoctorCmd(), newI2CCmd(), newSensorCmd(), newVersionCmd())
	root.AddCommand(newControlCmds()...)
	for _, c := range optionalCmds {
		root.AddCommand(c())
	}
	return root
}

// exactArgs is cobra.ExactArgs reported as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(c, args); err != nil {
			c.PrintErrln(c.UsageString())
			return usageError{err}
		}
		return nil
	}
}

// noArgs rejects positional arguments as a usage error.
var noArgs = exactArgs(0)
