package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(doc), "id: demo-gw", "id: BAD_ID", 1)
	cfg := filepath.Join(dir, "edgegw.yaml")
	if err := os.WriteFile(cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, code := runBinary(t, "config", "validate", cfg); code != 1 || !strings.Contains(stdout+stderr, `gateway.id: "BAD_ID" must match [a-z0-9][a-z0-9-]{0,62}`) {
		t.Errorf("config validate with gateway.id BAD_ID: exit %d, %s%s", code, stdout, stderr)
	}
	if _, stderr, code := runBinary(t, "keys", "init", "--dir", dir, "--id", "gw-001"); code != 0 {
		t.Fatalf("keys init --id gw-001: exit %d, %s", code, stderr)
	}
}
