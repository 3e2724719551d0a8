package main

import (
	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/gateway/selftest"
)

func newSelftestCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "selftest",
		Short: "Check cryptography, the buffer and the buses on this box (pass/fail per check)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if !asJSON {
				return selftest.Run(c.OutOrStdout())
			}
			results, err := selftest.Checks()
			if results == nil {
				results = []selftest.Result{}
			}
			if jerr := printJSON(c.OutOrStdout(), selftestOutput{Pass: err == nil, Checks: results}); jerr != nil {
				return jerr
			}
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print JSON: {"pass", "checks": [{"check", "pass", "detail", "error"}]}`)
	return c
}

// selftestOutput is the output of `selftest --json`.
type selftestOutput struct {
	Pass   bool              `json:"pass"` // every check passed
	Checks []selftest.Result `json:"checks"`
}
