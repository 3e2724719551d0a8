//go:build gendocs || (!nodemo && !nobackend)

package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// The full build has gendocs; the tag gendocs adds it to a production build
// (-tags nodemo,gendocs), which the package build runs on its own machine to
// document the command tree of the production binary it packages, a build
// of the same tags without gendocs.
func init() { optionalCmds = append(optionalCmds, newGendocsCmd) }

// Where gendocs puts each generated file under its root: Debian's places for
// man pages and the shell completions that bash-completion, zsh and fish
// load on demand.
const (
	manDir        = "usr/share/man/man1"
	bashCompFile  = "usr/share/bash-completion/completions/edgegw"
	zshCompFile   = "usr/share/zsh/vendor-completions/_edgegw"
	fishCompFile  = "usr/share/fish/vendor_completions.d/edgegw.fish"
	genFileMode   = 0o644
	genFolderMode = 0o755
)

// newGendocsCmd is the hidden command that the package build (scripts/mkdeb)
// and scripts/install.sh run to generate the man pages and the shell
// completions from this command tree, so that they always describe the
// binary they ship with.
func newGendocsCmd() *cobra.Command {
	var root string
	c := &cobra.Command{
		Use:    "gendocs --root DIR",
		Short:  "Write the man pages (edgegw*.1.gz) and bash, zsh and fish completions under DIR in Debian's layout",
		Hidden: true,
		Args:   noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if root == "" {
				return usageError{fmt.Errorf("--root is required")}
			}
			n, err := genDocs(c.Root(), root)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.OutOrStdout(), "wrote %d man pages and 3 completion scripts under %s\n", n, root)
			return err
		},
	}
	c.Flags().StringVar(&root, "root", "", "directory to write usr/share/... into (/ installs them)")
	return c
}

// genDocs writes the man pages of every available command of tree and the
// completion scripts under root, and returns the number of man pages. The
// pages' date is SOURCE_DATE_EPOCH when set (reproducible builds).
func genDocs(tree *cobra.Command, root string) (int, error) {
	tree.DisableAutoGenTag = true
	header := doc.GenManHeader{Title: "EDGEGW", Section: "1", Source: "edgegw " + version, Manual: "edgegw manual"}
	n := 0
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() || sub.IsAdditionalHelpTopicCommand() {
				continue
			}
			if err := walk(sub); err != nil {
				return err
			}
		}
		h := header
		h.Title = strings.ToUpper(strings.ReplaceAll(c.CommandPath(), " ", "\\-"))
		var page bytes.Buffer
		if err := doc.GenMan(c, &h, &page); err != nil {
			return fmt.Errorf("man page of %s: %w", c.CommandPath(), err)
		}
		n++
		return writeGzip(filepath.Join(root, manDir, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1.gz"), page.Bytes())
	}
	if err := walk(tree); err != nil {
		return 0, err
	}
	for file, gen := range map[string]func(*bytes.Buffer) error{
		bashCompFile: func(b *bytes.Buffer) error { return tree.GenBashCompletionV2(b, true) },
		zshCompFile:  func(b *bytes.Buffer) error { return tree.GenZshCompletion(b) },
		fishCompFile: func(b *bytes.Buffer) error { return tree.GenFishCompletion(b, true) },
	} {
		var b bytes.Buffer
		if err := gen(&b); err != nil {
			return 0, fmt.Errorf("completion %s: %w", file, err)
		}
		if err := writeGenerated(filepath.Join(root, file), b.Bytes()); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// writeGzip writes data gzip-compressed at best compression with no name
// and no time in the header, as Debian wants man pages (reproducible).
func writeGzip(path string, data []byte) error {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return writeGenerated(path, b.Bytes())
}

// writeGenerated writes a generated file, mode 0644, creating its directory.
func writeGenerated(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), genFolderMode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, genFileMode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
