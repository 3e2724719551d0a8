package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/internal/must"
)

// TestIntegrationKeysInitRefusesBadID: `edgegw keys init --id BAD_ID`
// refuses an id the configuration would reject as gateway.id, with a usage
// error naming the form, and writes no key.
func TestIntegrationKeysInitRefusesBadID(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{"BAD_ID", "gw_001", "-gw"} {
		_, stderr, code := runBinary(t, "keys", "init", "--dir", dir, "--id", id)
		if code != 2 || !strings.Contains(stderr, "--id: gateway id") || !strings.Contains(stderr, "[a-z0-9][a-z0-9-]{0,62}") {
			t.Errorf("keys init --id %s: exit %d, %q; want exit 2 naming the gateway id form", id, code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "identity.key")); err == nil {
			t.Fatalf("keys init --id %s wrote identity.key", id)
		}
	}
	// The configuration refuses the same id, by the same check.
	doc, err := os.ReadFile("../../configs/demo.yaml")
	must.NoError(t, err)
	bad := strings.Replace(string(doc), "id: demo-gw", "id: BAD_ID", 1)
	cfg := filepath.Join(dir, "edgegw.yaml")
	must.NoError(t, os.WriteFile(cfg, []byte(bad), 0o600))
	if stdout, stderr, code := runBinary(t, "config", "validate", cfg); code != 1 || !strings.Contains(stdout+stderr, `gateway.id: "BAD_ID" must match [a-z0-9][a-z0-9-]{0,62}`) {
		t.Errorf("config validate with gateway.id BAD_ID: exit %d, %s%s", code, stdout, stderr)
	}
	if _, stderr, code := runBinary(t, "keys", "init", "--dir", dir, "--id", "gw-001"); code != 0 {
		t.Fatalf("keys init --id gw-001: exit %d, %s", code, stderr)
	}
}

// TestIntegrationKeysRecipientName: `edgegw keys recipient --name NAME`
// writes NAME.key (0600) and NAME.pub of one pair, and refuses a name that is
// a path or already carries a suffix.
func TestIntegrationKeysRecipientName(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code := runBinary(t, "keys", "recipient", "--dir", dir, "--name", "ops.recipient")
	if code != 0 {
		t.Fatalf("keys recipient --name ops.recipient: exit %d, %s", code, stderr)
	}
	key, pub := filepath.Join(dir, "ops.recipient.key"), filepath.Join(dir, "ops.recipient.pub")
	if want := "wrote " + key + " and " + pub + "\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	checkRecipientPair(t, key, pub)
	if _, err := os.Stat(filepath.Join(dir, "recipient.key")); err == nil {
		t.Error("--name ops.recipient also wrote recipient.key")
	}
	if _, stderr, code := runBinary(t, "keys", "recipient", "--dir", dir, "--name", "ops.recipient"); code != 1 || !strings.Contains(stderr, "ops.recipient.key already exists") {
		t.Errorf("second keys recipient --name ops.recipient: exit %d, %q; want a refusal naming ops.recipient.key", code, stderr)
	}
	for _, bad := range []string{"ops.recipient.pub", "ops.key", "../ops", "sub/ops", "", ".hidden"} {
		if _, stderr, code := runBinary(t, "keys", "recipient", "--dir", dir, "--name", bad); code != 2 || !strings.Contains(stderr, "--name: key name") {
			t.Errorf("keys recipient --name %q: exit %d, %q; want exit 2 naming --name", bad, code, stderr)
		}
	}
	// Without --name the pair keeps its old names.
	if _, stderr, code := runBinary(t, "keys", "recipient", "--dir", dir); code != 0 {
		t.Fatalf("keys recipient: exit %d, %s", code, stderr)
	}
	checkRecipientPair(t, filepath.Join(dir, "recipient.key"), filepath.Join(dir, "recipient.pub"))
}

// TestIntegrationKeysRecipientAsDocumented: the `edgegw keys recipient` lines
// of docs/operations.md, run as written (in a temporary directory), write
// every recipient file that the docs, the README and the example configs
// name: the gateways' recipients (.pub) and the ingest's recipient_keys
// (.key).
func TestIntegrationKeysRecipientAsDocumented(t *testing.T) {
	dir := t.TempDir()
	cmdRE := regexp.MustCompile(`edgegw keys recipient [^#\n]*`)
	ran := 0
	for _, s := range snippets(t, "../../docs/operations.md") {
		for _, line := range cmdRE.FindAllString(s.text, -1) {
			args := strings.Fields(line)[1:]
			for i := range args {
				if i > 0 && args[i-1] == "--dir" {
					args[i] = dir
				}
			}
			if _, stderr, code := runBinary(t, args...); code != 0 {
				t.Fatalf("operations.md:%d: %s: exit %d, %s", s.line, line, code, stderr)
			}
			ran++
		}
	}
	if ran < 2 {
		t.Fatalf("docs/operations.md shows %d `edgegw keys recipient` commands, want one per data class", ran)
	}
	files, _ := filepath.Glob("../../configs/*.yaml")
	docs, _ := filepath.Glob("../../docs/*.md")
	named := map[string]bool{}
	classRE := regexp.MustCompile(`(?:telemetry|personal):\s*([^\s,}]+\.pub)`)
	keysRE := regexp.MustCompile(`recipient_keys:\s*\[([^\]]*)\]`)
	for _, f := range append(append(files, docs...), "../../README.md") {
		text := read(t, f)
		for _, m := range classRE.FindAllStringSubmatch(text, -1) {
			named[filepath.Base(m[1])] = true
		}
		for _, m := range keysRE.FindAllStringSubmatch(text, -1) {
			for _, p := range strings.Split(m[1], ",") {
				named[filepath.Base(strings.TrimSpace(p))] = true
			}
		}
	}
	if len(named) < 2 {
		t.Fatalf("found %d recipient files named in the docs: %v", len(named), named)
	}
	for name := range named {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("the docs name the recipient file %s, which the documented `edgegw keys recipient` commands do not write", name)
		}
	}
}

// checkRecipientPair checks that key (mode 0600) and pub are one recipient
// key pair.
func checkRecipientPair(t *testing.T, key, pub string) {
	t.Helper()
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v; want mode 0600", key, fi, err)
	}
	priv, err := keys.LoadRecipientPrivate(key)
	must.NoError(t, err)
	if got := strings.TrimSpace(read(t, pub)); got != priv.Public().String() {
		t.Errorf("%s = %q, not the public half of %s (%q)", pub, got, key, priv.Public().String())
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	must.NoError(t, err)
	return string(b)
}
