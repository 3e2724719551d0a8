package keys

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/internal/must"
)

func TestIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	must.NoError(t, InitIdentity(dir, "gw-1", false))
	for name, want := range map[string]os.FileMode{"": 0o700, IdentityKeyFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%q: mode %v, %v; want %#o", name, fi.Mode().Perm(), err, want)
		}
	}
	id, err := LoadIdentity(dir)
	must.NoError(t, err)
	if id.ID != "gw-1" || len(id.Key) != ed25519.PrivateKeySize {
		t.Fatalf("identity %q", id.ID)
	}
	line, _ := os.ReadFile(filepath.Join(dir, IdentityPubFile))
	if !strings.HasPrefix(string(line), "edgegw-ed25519 ") || !strings.HasSuffix(string(line), " gw-1\n") {
		t.Errorf("identity.pub = %q", line)
	}
	pub, err := LoadPublicIdentity(filepath.Join(dir, IdentityPubFile))
	if err != nil || !pub.Key.Equal(id.Key.Public()) || pub.String()+"\n" != string(line) {
		t.Fatalf("public identity %v, %v", pub, err)
	}
	if len(pub.KID()) != 8 || !bytes.Equal(pub.KID(), id.Public().KID()) {
		t.Errorf("KID %x", pub.KID())
	}
	err = InitIdentity(dir, "gw-1", false)
	if err == nil || !strings.Contains(err.Error(), IdentityKeyFile) || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrite without force: %v", err)
	}
	must.NoError(t, InitIdentity(dir, "gw-1", true))
	id2, err := LoadIdentity(dir)
	if err != nil || id2.Key.Equal(id.Key) {
		t.Fatalf("force did not replace the key: %v", err)
	}
	must.NoError(t, os.Chmod(filepath.Join(dir, IdentityKeyFile), 0o640))
	_, err = LoadIdentity(dir)
	if err == nil || !strings.Contains(err.Error(), IdentityKeyFile) || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), "0640") {
		t.Errorf("group-readable key: %v", err)
	}
	if err := CheckPrivateFileMode(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
	if err := CheckPrivateFileMode(dir); err == nil {
		t.Error("directory accepted")
	}
	// A public file of another key is refused.
	other := t.TempDir()
	must.NoError(t, InitIdentity(other, "gw-1", false))
	os.Chmod(filepath.Join(dir, IdentityKeyFile), 0o600)
	b, _ := os.ReadFile(filepath.Join(other, IdentityPubFile))
	os.WriteFile(filepath.Join(dir, IdentityPubFile), b, 0o644)
	if _, err := LoadIdentity(dir); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatched public file: %v", err)
	}
}

func TestParsePublicIdentity(t *testing.T) {
	good := PublicIdentity{ID: "gw-1", Key: make(ed25519.PublicKey, 32)}.String()
	if _, err := ParsePublicIdentity("  " + good + "\n"); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"", "edgegw-ed25519", strings.Replace(good, "edgegw-ed25519", "ssh-ed25519", 1),
		strings.Replace(good, "gw-1", "gw/1", 1), good + " extra",
		"edgegw-ed25519 AAAA gw-1", "edgegw-ed25519 !!!! gw-1",
	} {
		if _, err := ParsePublicIdentity(line); err == nil {
			t.Errorf("ParsePublicIdentity(%q) succeeded", line)
		}
	}
	for _, id := range []string{"", "a b", "a/b", "a+b", "a#b", "a\x00", strings.Repeat("x", 129), "\xff", "gw-é", "gw\u00a01", "gw\x7f", "gw\t1"} {
		if err := ValidateID(id); err == nil {
			t.Errorf("ValidateID(%q) succeeded", id)
		}
	}
	for _, id := range []string{"gw-0001", "!", "~", "A.b_c:d@e", strings.Repeat("x", 128)} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q): %v", id, err)
		}
	}
}

func TestRecipient(t *testing.T) {
	for _, s := range []Suite{SuiteX25519, SuiteMLKEM768X25519} {
		t.Run(s.String(), func(t *testing.T) {
			if p, err := ParseSuite(s.String()); err != nil || p != s {
				t.Fatalf("ParseSuite(%q) = %v, %v", s, p, err)
			}
			dir := t.TempDir()
			must.NoError(t, GenerateRecipient(dir, s, false))
			priv, err := LoadRecipientPrivate(filepath.Join(dir, RecipientKeyFile))
			must.NoError(t, err)
			pub, err := LoadRecipientPublic(filepath.Join(dir, RecipientPubFile))
			must.NoError(t, err)
			if priv.Suite != s || pub.Suite != s || !bytes.Equal(priv.KID(), pub.KID()) || len(pub.KID()) != 8 {
				t.Fatalf("suite %v/%v kid %x/%x", priv.Suite, pub.Suite, priv.KID(), pub.KID())
			}
			if !bytes.Equal(priv.Key.PublicKey().Bytes(), pub.Key.Bytes()) || len(pub.Key.Bytes()) == 0 {
				t.Fatal("public key mismatch")
			}
			line, _ := os.ReadFile(filepath.Join(dir, RecipientPubFile))
			if !strings.HasPrefix(string(line), "edgegw-hpke-"+s.String()+" ") {
				t.Errorf("recipient.pub = %q", line)
			}
			if _, err := ParseRecipientPublic(strings.TrimSpace(string(line)) + " backend key 2025"); err != nil {
				t.Errorf("comment rejected: %v", err)
			}
			pemb, _ := os.ReadFile(filepath.Join(dir, RecipientKeyFile))
			if !bytes.Contains(pemb, []byte("Suite: "+s.String())) || !bytes.Contains(pemb, []byte("EDGEGW HPKE PRIVATE KEY")) {
				t.Errorf("recipient.key = %s", pemb)
			}
			if err := GenerateRecipient(dir, s, false); err == nil || !strings.Contains(err.Error(), RecipientKeyFile) {
				t.Errorf("overwrite without force: %v", err)
			}
			must.NoError(t, GenerateRecipient(dir, s, true))
			os.Chmod(filepath.Join(dir, RecipientKeyFile), 0o604)
			if _, err := LoadRecipientPrivate(filepath.Join(dir, RecipientKeyFile)); err == nil || !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("world-readable key: %v", err)
			}
			if s.KEM() == nil || s.KDF().ID() != 1 || s.AEAD().ID() != 3 {
				t.Error("suite algorithms")
			}
		})
	}
	if SuiteX25519.KEM().ID() != 0x0020 || SuiteMLKEM768X25519.KEM().ID() != 0x647a {
		t.Error("KEM ids")
	}
	if _, err := ParseSuite("none"); err == nil {
		t.Error("ParseSuite(none) succeeded")
	}
	if err := GenerateRecipient(t.TempDir(), SuiteNone, false); err == nil {
		t.Error("GenerateRecipient(SuiteNone) succeeded")
	}
	if _, err := ParseRecipientPublic("edgegw-hpke-x25519 AAAA"); err == nil {
		t.Error("short key accepted")
	}
	k, _ := SuiteX25519.KEM().GenerateKey()
	if _, err := NewRecipientPrivate(SuiteMLKEM768X25519, k); err == nil {
		t.Error("suite/KEM mismatch accepted")
	}
}

// TestInitIdentityRefusesBadGatewayID: an identity is created only for an
// id the configuration accepts as gateway.id.
func TestInitIdentityRefusesBadGatewayID(t *testing.T) {
	for _, id := range []string{"BAD_ID", "gw_1", "-gw", "", strings.Repeat("a", 64), "gw/1"} {
		dir := filepath.Join(t.TempDir(), "keys")
		err := InitIdentity(dir, id, false)
		if err == nil || !strings.Contains(err.Error(), GatewayIDForm) {
			t.Errorf("InitIdentity(%q) = %v, want a refusal naming %s", id, err, GatewayIDForm)
		}
		if _, serr := os.Stat(dir); serr == nil {
			t.Errorf("InitIdentity(%q) created %s", id, dir)
		}
	}
	for _, id := range []string{"gw-001", "a", strings.Repeat("a", 63)} {
		if err := CheckGatewayID(id); err != nil {
			t.Errorf("CheckGatewayID(%q) = %v", id, err)
		}
	}
}
