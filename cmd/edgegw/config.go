package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/config"
)

func newConfigCmd() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Work with configuration files", Args: noArgs}
	c.AddCommand(newConfigSignCmd(), newConfigSignTrustCmd(), newConfigVerifyCmd(), newConfigPushCmd(), newConfigStatusCmd(), newConfigApplyCmd())
	var asJSON bool
	validate := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a configuration file as `edgegw run` will, and report every error with its line",
		Long: `Check a configuration file as ` + "`edgegw run`" + ` checks it before it starts: every field,
and each device's model and options (addresses, unit ids, meter profiles, bus
names) through the drivers this binary links. Nothing is opened: whether the
key files, certificates and buses exist is for ` + "`edgegw doctor`" + `.

With --json it prints {"file", "valid", "gateway", "devices", "version"} for a
valid file and {"file", "valid": false, "errors": [...]} (one message per
error, each naming its line and field) for an invalid one; the exit code is 1
for an invalid file either way.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err == nil {
				err = gateway.CheckConfig(cfg)
			}
			if asJSON {
				out := validation{File: args[0], Valid: err == nil}
				if err != nil {
					out.Errors = errorLines(err)
				} else {
					n := len(cfg.Devices)
					out.Gateway, out.Devices, out.Version = cfg.Gateway.ID, &n, &cfg.Version
				}
				if jerr := printJSON(c.OutOrStdout(), out); jerr != nil {
					return jerr
				}
				return err
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.OutOrStdout(), "%s: valid (gateway %s, %d devices, config version %d)\n", args[0], cfg.Gateway.ID, len(cfg.Devices), cfg.Version)
			return err
		},
	}
	validate.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	c.AddCommand(validate)
	return c
}

// validation is the output of `config validate --json`.
type validation struct {
	File    string   `json:"file"`
	Valid   bool     `json:"valid"`
	Gateway string   `json:"gateway,omitempty"` // gateway.id of a valid file
	Devices *int     `json:"devices,omitempty"` // devices of a valid file
	Version *uint64  `json:"version,omitempty"` // version of a valid file
	Errors  []string `json:"errors,omitempty"`  // an invalid file's errors, one each
}

// errorLines splits joined errors (errors.Join) into their messages, one
// line each.
func errorLines(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, errorLines(e)...)
		}
		return out
	}
	var out []string
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}
