package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/internal/must"

	"github.com/edgegw/edgegw/backend/ingest"
	"gopkg.in/yaml.v3"
)

// TestExampleConfigsAreValid: every example in configs/ (installed as
// /etc/edgegw/edgegw.yaml and under /usr/share/doc/edgegw/examples) passes
// `edgegw config validate`, drivers' options included, and every one in
// configs/backend/ (installed as /etc/edgegw-ingest/ingest.yaml) is a
// configuration `edgegw ingest` accepts.
func TestExampleConfigsAreValid(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("configs: %v, %v", files, err)
	}
	for _, f := range files {
		if out, code := execute(t, "config", "validate", f); code != 0 {
			t.Errorf("%s:\n%s", f, out)
		}
	}
	files, err = filepath.Glob("../../configs/backend/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("configs/backend: %v, %v", files, err)
	}
	for _, f := range files {
		if _, err := ingest.LoadConfig(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// snippet is a fenced code block of a document.
type snippet struct {
	file string
	line int    // of the opening fence
	lang string // the info string: "yaml", "sh", ""
	text string
}

// snippets returns the fenced code blocks of a Markdown file.
func snippets(t *testing.T, path string) []snippet {
	t.Helper()
	f, err := os.Open(path)
	must.NoError(t, err)
	defer f.Close()
	var out []snippet
	var cur *snippet
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fence := strings.HasPrefix(strings.TrimSpace(line), "```")
		switch {
		case cur == nil && fence:
			cur = &snippet{file: path, line: n, lang: strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "```"))}
		case cur != nil && fence:
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	must.NoError(t, sc.Err())
	if cur != nil {
		t.Fatalf("%s:%d: fence not closed", path, cur.line)
	}
	return out
}

// docBase is the configuration a snippet of a few sections completes: each
// top-level key of the snippet replaces the base's.
var docBase = []struct{ key, text string }{
	{"version", "version: 0"},
	{"gateway", "gateway: {id: jb-0417}"},
	{"uplink", "uplink: {broker: mqtts://broker.city.example:8883, ca: /etc/edgegw/ca.pem, cert: /etc/edgegw/client.pem, key: /etc/edgegw/client.key}"},
	{"recipients", "recipients: {telemetry: /etc/edgegw/ops.recipient.pub, personal: /etc/edgegw/privacy.recipient.pub}"},
	{"devices", "devices: []"},
}

// configKeyRE finds what looks like configuration in a block that does not
// say it is YAML.
var configKeyRE = regexp.MustCompile(`(?m)^\s*(- )?\{?(name|driver|options|uplink|devices):|^\s*gateway:\s*(\{|$)`)

// ingestMark starts a yaml block that shows an `edgegw ingest` configuration,
// validated as one.
const ingestMark = "# edgegw ingest\n"

// TestDocsYAMLIsValid: every fenced yaml block of the README and the docs
// passes `edgegw config validate` (a block of a few sections completes a
// minimal configuration), and configuration is never shown in a block that
// escapes this test by not saying it is yaml.
func TestDocsYAMLIsValid(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	must.NoError(t, err)
	files = append(files, "../../README.md")
	dir := t.TempDir()
	checked := 0
	for _, file := range files {
		for _, s := range snippets(t, file) {
			where := fmt.Sprintf("%s:%d", filepath.Base(s.file), s.line)
			if s.lang != "yaml" {
				if configKeyRE.MatchString(s.text) {
					t.Errorf("%s: a block showing configuration must be fenced as ```yaml so that it is validated", where)
				}
				continue
			}
			if strings.HasPrefix(s.text, ingestMark) {
				if _, err := ingest.ParseConfig([]byte(s.text)); err != nil {
					t.Errorf("%s: the ingest configuration does not validate: %v", where, err)
				}
				checked++
				continue
			}
			var top map[string]yaml.Node
			if err := yaml.Unmarshal([]byte(s.text), &top); err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			var full strings.Builder
			for _, b := range docBase {
				if _, ok := top[b.key]; !ok {
					full.WriteString(b.text + "\n")
				}
			}
			full.WriteString(s.text)
			path := filepath.Join(dir, fmt.Sprintf("%s-%d.yaml", strings.TrimSuffix(filepath.Base(s.file), ".md"), s.line))
			must.NoError(t, os.WriteFile(path, []byte(full.String()), 0o644))
			out, code := execute(t, "config", "validate", path)
			if code != 0 {
				t.Errorf("%s: the yaml block does not validate:\n%s\n(as %s:\n%s)", where, out, path, full.String())
			}
			checked++
		}
	}
	if checked < 3 {
		t.Errorf("validated %d yaml blocks; the README and docs/operations.md have at least 3", checked)
	}
}
