package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/crypto/keys"
)

func newKeysCmd() *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "Generate gateway identity and recipient keys", Args: noArgs}
	var dir, id, suite string
	var force bool
	initCmd := &cobra.Command{
		Use:   "init --dir DIR --id GATEWAY-ID",
		Short: "Write the gateway's Ed25519 identity (identity.key 0600, identity.pub)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if id == "" {
				return usageError{fmt.Errorf("--id is required")}
			}
			if err := keys.CheckGatewayID(id); err != nil {
				return usageError{fmt.Errorf("--id: %w", err)}
			}
			if err := keys.InitIdentity(dir, id, force); err != nil {
				return err
			}
			_, err := fmt.Fprintf(c.OutOrStdout(), "wrote %s and %s\n", filepath.Join(dir, "identity.key"), filepath.Join(dir, "identity.pub"))
			return err
		},
	}
	recipientCmd := &cobra.Command{
		Use:   "recipient --dir DIR [--suite x25519|mlkem768x25519]",
		Short: "Write a backend recipient key pair (recipient.key 0600 stays with the backend, recipient.pub goes to gateways)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := keys.ParseSuite(suite)
			if err != nil {
				return usageError{err}
			}
			if err := keys.GenerateRecipient(dir, s, force); err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.OutOrStdout(), "wrote %s and %s\n", filepath.Join(dir, "recipient.key"), filepath.Join(dir, "recipient.pub"))
			return err
		},
	}
	for _, sub := range []*cobra.Command{initCmd, recipientCmd} {
		sub.Flags().StringVar(&dir, "dir", ".", "directory for the key files")
		sub.Flags().BoolVar(&force, "force", false, "overwrite existing key files")
	}
	initCmd.Flags().StringVar(&id, "id", "", "gateway id (also its client certificate CN)")
	recipientCmd.Flags().StringVar(&suite, "suite", "x25519", "HPKE suite: x25519 or mlkem768x25519 (post-quantum hybrid)")
	c.AddCommand(initCmd, recipientCmd, newKeysOpsCmd())
	return c
}
