//go:build !custom || drivers.modbusmeter

package main

import (
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/drivers/modbusmeter"
	"github.com/edgegw/edgegw/internal/must"
)

// metersDoc documents the meter profiles.
const metersDoc = "../../docs/meters.md"

var updateDocs = flag.Bool("update-docs", false, "rewrite the command outputs shown in docs/meters.md")

// TestDocsMetersShowEveryProfile: docs/meters.md has a device entry for
// every shipped profile in a yaml block (which TestDocsYAMLIsValid
// validates).
func TestDocsMetersShowEveryProfile(t *testing.T) {
	profiles, err := modbusmeter.Profiles()
	must.NoError(t, err)
	var yamlText strings.Builder
	for _, s := range snippets(t, metersDoc) {
		if s.lang == "yaml" {
			yamlText.WriteString(s.text)
		}
	}
	for _, p := range profiles {
		if !regexp.MustCompile(`profile:\s*` + regexp.QuoteMeta(p.Name) + `\b`).MatchString(yamlText.String()) {
			t.Errorf("docs/meters.md has no yaml device entry with profile: %s", p.Name)
		}
	}
}

// TestIntegrationDocsMeterCommands: every block of docs/meters.md that
// starts with `$ edgegw modbus …` shows what that command prints. Run with
// -update-docs to rewrite them. What moves with time (the VALUE column of
// `modbus read`, the time on the bus) is compared by shape only.
func TestIntegrationDocsMeterCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the emulated meters")
	}
	doc := read(t, metersDoc)
	shown := 0
	for _, s := range snippets(t, metersDoc) {
		cmd, want, _ := strings.Cut(s.text, "\n")
		if !strings.HasPrefix(cmd, "$ edgegw modbus ") {
			continue
		}
		shown++
		out, code := execute(t, strings.Fields(cmd)[2:]...)
		if code != 0 {
			t.Fatalf("meters.md:%d: %s: exit %d:\n%s", s.line, cmd, code, out)
		}
		if *updateDocs {
			doc = strings.Replace(doc, s.text, cmd+"\n"+out, 1)
			continue
		}
		if got, w := outputShape(out), outputShape(want); got != w {
			t.Errorf("meters.md:%d: %s prints\n%s\nwhere the doc shows\n%s\n(go test ./cmd/edgegw -run %s -update-docs rewrites it)", s.line, cmd, out, want, t.Name())
		}
	}
	if shown < 2 {
		t.Errorf("docs/meters.md shows %d `edgegw modbus` commands with their output, want at least 2", shown)
	}
	if *updateDocs {
		must.NoError(t, os.WriteFile(metersDoc, []byte(doc), 0o644))
	}
}

// onBusRE matches the time a poll held the line, which varies run to run.
var onBusRE = regexp.MustCompile(`[0-9.]+[mµn]?s on the bus`)

// outputShape returns a command's output with whitespace runs collapsed
// (column widths follow the values), the VALUE column of a table masked
// and the time on the bus masked.
func outputShape(s string) string {
	var b strings.Builder
	value := -1
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		f := strings.Fields(onBusRE.ReplaceAllString(line, "# on the bus"))
		switch {
		case len(f) == 0:
			value = -1
		case value < 0:
			value = slices.Index(f, "VALUE")
		case len(f) > value:
			f[value] = "#"
		}
		b.WriteString(strings.Join(f, " ") + "\n")
	}
	return b.String()
}
