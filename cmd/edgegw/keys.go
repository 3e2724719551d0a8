package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/crypto/keys"
)

func newKeysCmd() *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "Generate gateway identity and recipient keys", Args: noArgs}
	var dir, id, suite, name string
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
		Use:   "recipient --dir DIR [--name NAME] [--suite x25519|mlkem768x25519]",
		Short: "Write a backend recipient key pair (NAME.key 0600 stays with the backend, NAME.pub goes to gateways)",
		Example: "  edgegw keys recipient --dir /etc/edgegw-ingest --name ops.recipient\n" +
			"  # writes ops.recipient.key (for the ingest's recipient_keys) and ops.recipient.pub (for the gateways' recipients)",
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := keys.ParseSuite(suite)
			if err != nil {
				return usageError{err}
			}
			if err := keys.CheckKeyName(name); err != nil {
				return usageError{fmt.Errorf("--name: %w", err)}
			}
			if err := keys.GenerateRecipientNamed(dir, name, s, force); err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.OutOrStdout(), "wrote %s and %s\n", filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub"))
			return err
		},
	}
	for _, sub := range []*cobra.Command{initCmd, recipientCmd} {
		sub.Flags().StringVar(&dir, "dir", ".", "directory for the key files")
		sub.Flags().BoolVar(&force, "force", false, "overwrite existing key files")
	}
	initCmd.Flags().StringVar(&id, "id", "", "gateway id (also its client certificate CN)")
	recipientCmd.Flags().StringVar(&name, "name", keys.RecipientName, "name of the key pair: writes NAME.key and NAME.pub")
	recipientCmd.Flags().StringVar(&suite, "suite", "x25519", "HPKE suite: x25519 or mlkem768x25519 (post-quantum hybrid)")
	c.AddCommand(initCmd, recipientCmd, newKeysOpsCmd())
	return c
}
