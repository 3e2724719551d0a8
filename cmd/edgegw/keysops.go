package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/crypto/confsig"
)

// newKeysOpsCmd is `edgegw keys ops --dir D [--force]`.
func newKeysOpsCmd() *cobra.Command {
	var dir string
	var force bool
	c := &cobra.Command{
		Use:   "ops --dir DIR [--force]",
		Short: "Write a fleet operations signing key pair (ops.key 0600 stays with ops, ops.pub is pinned on gateways)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := confsig.InitOps(dir, force); err != nil {
				return err
			}
			trust, err := confsig.LoadOpsPublic(filepath.Join(dir, confsig.OpsPubFile))
			if err != nil {
				return err
			}
			for kid := range trust {
				_, err = fmt.Fprintf(c.OutOrStdout(), "wrote %s and %s (key id %s)\n",
					filepath.Join(dir, confsig.OpsKeyFile), filepath.Join(dir, confsig.OpsPubFile), kid)
			}
			return err
		},
	}
	c.Flags().StringVar(&dir, "dir", ".", "directory for ops.key and ops.pub (created 0700)")
	c.Flags().BoolVar(&force, "force", false, "overwrite existing key files")
	return c
}
