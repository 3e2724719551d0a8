package main

import (
	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway/selftest"
)

func newSelftestCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "selftest",
		Short: "Check cryptography, the buffer and the buses on this box (pass/fail per check)",
		Args:  noArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return selftest.Run(c.OutOrStdout()) },
	}
}
