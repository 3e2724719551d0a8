package confsig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
)

func TestInitAndLoadOps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ops")
	must.NoError(t, InitOps(dir, false))
	keyPath, pubPath := filepath.Join(dir, OpsKeyFile), filepath.Join(dir, OpsPubFile)
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ops.key: %v, %v", fi, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("key dir: %v, %v", fi, err)
	}
	pub, _ := os.ReadFile(pubPath)
	if !strings.HasPrefix(string(pub), "edgegw-ops-ed25519 ") || !strings.HasSuffix(string(pub), "\n") {
		t.Fatalf("ops.pub = %q", pub)
	}
	key, err := LoadOpsKey(keyPath)
	must.NoError(t, err)
	trust, err := LoadOpsPublic(pubPath)
	must.NoError(t, err)
	p, ok := trust[key.Public().KID()]
	if len(trust) != 1 || !ok || !p.Key.Equal(key.Public().Key) || p.Comment != "kid:"+p.KID().String() {
		t.Fatalf("trust = %v, want the key's public half", trust)
	}
	doc := mustSign(t, key, 1, ForGateway("gw-001"), "gw-001")
	if _, err := (Policy{GatewayID: "gw-001", Now: t0}).Verify(doc, trust); err != nil {
		t.Fatal(err)
	}

	if err := InitOps(dir, false); err == nil || !strings.Contains(err.Error(), "ops.key already exists") {
		t.Fatalf("second InitOps: %v", err)
	}
	must.NoError(t, InitOps(dir, true))
	if k2, _ := LoadOpsKey(keyPath); k2 == nil || k2.Key.Equal(key.Key) {
		t.Fatal("InitOps with force did not write a new key")
	}

	must.NoError(t, os.Chmod(keyPath, 0o640))
	if _, err := LoadOpsKey(keyPath); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("LoadOpsKey of a group-readable file: %v", err)
	}
}

func TestLoadOpsPublic(t *testing.T) {
	dir := t.TempDir()
	a, b := newKey(t).Public(), newKey(t).Public()
	a.Comment = "ops team 2026 rotation"
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		must.NoError(t, os.WriteFile(p, []byte(s), 0o644))
		return p
	}
	f1 := write("one.pub", "# pinned at commissioning\n\n"+a.String()+"\n")
	f2 := write("two.pub", b.String()+"\n"+a.String()+"\n")
	trust, err := LoadOpsPublic(f1, f2)
	must.NoError(t, err)
	if len(trust) != 2 || trust[a.KID()].Comment != "ops team 2026 rotation" {
		t.Fatalf("trust = %v", trust)
	}
	again, err := LoadOpsPublic(write("all.pub", string(trust.Marshal())))
	if err != nil || len(again) != 2 {
		t.Fatalf("reloading Marshal: %v, %v", again, err)
	}
	for name, content := range map[string]string{
		"identity.pub": "edgegw-ed25519 AAAA gw-001\n",
		"short.pub":    "edgegw-ops-ed25519 AAAA\n",
		"empty.pub":    "# nothing\n",
	} {
		if _, err := LoadOpsPublic(write(name, content)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want one naming the file", name, err)
		}
	}
	if _, err := LoadOpsPublic(filepath.Join(dir, "missing.pub")); err == nil {
		t.Error("missing file loaded")
	}
}

func TestTrustRotation(t *testing.T) {
	oldKey, newK, stranger := newKey(t), newKey(t), newKey(t)
	pinned := NewOpsTrust(oldKey.Public())
	next := NewOpsTrust(newK.Public())

	// Signed by the pinned key: retire it, add the new one.
	doc, err := SignTrust(oldKey, 1, ForGroup("north"), time.Time{}, t0.Add(time.Hour), next)
	must.NoError(t, err)
	u, err := Policy{GatewayID: "gw-001", Group: "north", Now: t0}.VerifyTrust(doc, pinned)
	must.NoError(t, err)
	if u.Version != 1 || len(u.Trust) != 1 || len(u.Added) != 1 || len(u.Retired) != 1 ||
		!u.Added[0].Key.Equal(newK.Public().Key) || !u.Retired[0].Key.Equal(oldKey.Public().Key) || u.KeyID != oldKey.Public().KID() {
		t.Fatalf("update = %+v", u)
	}
	// The new set verifies configuration signed by the new key only.
	cfg := mustSign(t, newK, 1, ForGateway("gw-001"), "gw-001")
	if _, err := (Policy{GatewayID: "gw-001", Now: t0}).Verify(cfg, u.Trust); err != nil {
		t.Fatal(err)
	}
	_, err = Policy{GatewayID: "gw-001", Now: t0}.Verify(mustSign(t, oldKey, 1, ForGateway("gw-001"), "gw-001"), u.Trust)
	wantReject(t, err, ReasonUntrustedKey, "")

	// Replay, wrong gateway, expired, untrusted signer.
	_, err = Policy{GatewayID: "gw-001", Group: "north", Running: 1, Now: t0}.VerifyTrust(doc, pinned)
	wantReject(t, err, ReasonNotNewer, "")
	_, err = Policy{GatewayID: "gw-001", Group: "south", Now: t0}.VerifyTrust(doc, pinned)
	wantReject(t, err, ReasonNotForThisGateway, "")
	_, err = Policy{GatewayID: "gw-001", Group: "north", Now: t0.Add(2 * time.Hour)}.VerifyTrust(doc, pinned)
	wantReject(t, err, ReasonExpired, "")
	forged, _ := SignTrust(stranger, 2, ForGroup("north"), time.Time{}, time.Time{}, NewOpsTrust(stranger.Public()))
	_, err = Policy{GatewayID: "gw-001", Group: "north", Now: t0}.VerifyTrust(forged, pinned)
	wantReject(t, err, ReasonUntrustedKey, "")

	// Adding a key keeps the signer, and comments of kept keys.
	p := oldKey.Public()
	p.Comment = "primary"
	pinned = NewOpsTrust(p)
	add, err := SignTrust(oldKey, 2, ForGateway("gw-001"), time.Time{}, time.Time{}, NewOpsTrust(oldKey.Public(), newK.Public()))
	must.NoError(t, err)
	u, err = Policy{GatewayID: "gw-001", Running: 1, Now: t0}.VerifyTrust(add, pinned)
	must.NoError(t, err)
	if len(u.Trust) != 2 || len(u.Added) != 1 || len(u.Retired) != 0 || u.Trust[p.KID()].Comment != "primary" {
		t.Fatalf("update = %+v", u)
	}

	if _, err := SignTrust(oldKey, 3, ForGateway("gw-001"), time.Time{}, time.Time{}, OpsTrust{}); err == nil {
		t.Error("signed an empty trust set")
	}
	if _, err := SignTrust(oldKey, 0, ForGateway("gw-001"), time.Time{}, time.Time{}, next); err == nil {
		t.Error("signed trust version 0")
	}
}
