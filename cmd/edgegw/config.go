package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/config"
)

func newConfigCmd() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Work with configuration files", Args: noArgs}
	c.AddCommand(newConfigSignCmd(), newConfigSignTrustCmd(), newConfigVerifyCmd(), newConfigPushCmd(), newConfigStatusCmd(), newConfigApplyCmd())
	c.AddCommand(&cobra.Command{
		Use:   "validate FILE",
		Short: "Check a configuration file as `edgegw run` will, and report every error with its line",
		Long: `Check a configuration file as ` + "`edgegw run`" + ` checks it before it starts: every field,
and each device's model and options (addresses, unit ids, meter profiles, bus
names) through the drivers this binary links. Nothing is opened: whether the
key files, certificates and buses exist is for ` + "`edgegw doctor`" + `.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err == nil {
				err = gateway.CheckConfig(cfg)
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.OutOrStdout(), "%s: valid (gateway %s, %d devices, config version %d)\n", args[0], cfg.Gateway.ID, len(cfg.Devices), cfg.Version)
			return err
		},
	})
	return c
}
