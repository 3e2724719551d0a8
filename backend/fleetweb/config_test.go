package fleetweb_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend/fleetweb"
	"github.com/edgegw/edgegw/internal/must"
)

func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  fleetweb.Config
		want string // "" for valid
	}{
		{"off", fleetweb.Config{}, ""},
		{"loopback v4", fleetweb.Config{Listen: "127.0.0.1:8480"}, ""},
		{"loopback v6", fleetweb.Config{Listen: "[::1]:8480"}, ""},
		{"localhost", fleetweb.Config{Listen: "localhost:0"}, ""},
		{"loopback with TLS and token", fleetweb.Config{Listen: "127.0.0.2:8480", Cert: "c", Key: "k", TokenFile: "t"}, ""},
		{"public with TLS and token", fleetweb.Config{Listen: "10.0.0.5:8443", Cert: "c", Key: "k", TokenFile: "t"}, ""},
		{"every interface plain", fleetweb.Config{Listen: ":8480"}, "http.listen: :8480 is not a loopback address: http.cert and http.key (TLS) are required"},
		{"public without token", fleetweb.Config{Listen: "10.0.0.5:8443", Cert: "c", Key: "k"}, "http.token_file (a bearer token) is required"},
		{"public without TLS", fleetweb.Config{Listen: "0.0.0.0:8443", TokenFile: "t"}, "http.cert and http.key (TLS) are required"},
		{"host name", fleetweb.Config{Listen: "backend.city.example:8443"}, "is not a loopback address"},
		{"v4-mapped public", fleetweb.Config{Listen: "[::ffff:10.0.0.1]:80"}, "is not a loopback address"},
		{"cert without key", fleetweb.Config{Listen: "127.0.0.1:8480", Cert: "c"}, "http.cert and http.key: both or neither"},
		{"no port", fleetweb.Config{Listen: "127.0.0.1"}, `http.listen: "127.0.0.1": `},
		{"bad port", fleetweb.Config{Listen: "127.0.0.1:http"}, `port "http" is not a number`},
		{"port too big", fleetweb.Config{Listen: "127.0.0.1:70000"}, `port "70000" is not a number`},
		{"token without listen", fleetweb.Config{TokenFile: "t"}, "http.listen: required when"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Check()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Check(%+v) = %v, want %q", tc.cfg, err, tc.want)
			}
		})
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir and
// returns their paths and a pool trusting it.
func selfSigned(t *testing.T, dir string) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fleet web test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	must.NoError(t, err)
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	must.NoError(t, err)
	cert, key = filepath.Join(dir, "web.pem"), filepath.Join(dir, "web.key")
	must.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	must.NoError(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600))
	c, err := x509.ParseCertificate(der)
	must.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return cert, key, pool
}

// TestListenTLSAndToken: a server with TLS and a token file answers only
// over TLS and only with the token; token files that are short or readable
// by others are refused.
func TestListenTLSAndToken(t *testing.T) {
	sf := newSimFleet(t)
	dir := t.TempDir()
	cert, key, pool := selfSigned(t, dir)
	tokFile := filepath.Join(dir, "web.token")
	tok := "s3cret-token-of-the-fleet-page"
	must.NoError(t, os.WriteFile(tokFile, []byte(tok+"\n"), 0o600))
	cfg := fleetweb.Config{Listen: "127.0.0.1:0", Cert: cert, Key: key, TokenFile: tokFile}
	srv, err := fleetweb.Listen(cfg, fleetweb.Deps{Fleet: sf.fleet})
	must.NoError(t, err)
	if !strings.HasPrefix(srv.URL(), "https://127.0.0.1:") {
		t.Errorf("URL %s", srv.URL())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	do := func(auth string) int {
		req, _ := http.NewRequest("GET", srv.URL(), nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := client.Do(req)
		must.NoError(t, err)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if code := do(""); code != 401 {
		t.Errorf("without the token: %d", code)
	}
	if code := do("Bearer " + tok); code != 200 {
		t.Errorf("with the token: %d", code)
	}
	if res, err := http.Get(strings.Replace(srv.URL(), "https:", "http:", 1)); err == nil {
		res.Body.Close()
		if res.StatusCode < 400 {
			t.Errorf("plain HTTP to the TLS listener answered %d", res.StatusCode)
		}
	}

	for name, tc := range map[string]struct {
		body string
		mode os.FileMode
		want string
	}{
		"short":    {"short\n", 0o600, "holds 5 bytes, fewer than 16"},
		"readable": {tok, 0o644, "readable by others (mode -rw-r--r--): chmod 600"},
	} {
		p := filepath.Join(dir, name+".token")
		must.NoError(t, os.WriteFile(p, []byte(tc.body), tc.mode))
		must.NoError(t, os.Chmod(p, tc.mode))
		cfg.TokenFile = p
		if _, err := fleetweb.Listen(cfg, fleetweb.Deps{Fleet: sf.fleet}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s token: %v, want %q", name, err, tc.want)
		}
	}
	cfg.TokenFile = filepath.Join(dir, "missing.token")
	if _, err := fleetweb.Listen(cfg, fleetweb.Deps{Fleet: sf.fleet}); err == nil || !strings.Contains(err.Error(), "http.token_file") {
		t.Errorf("missing token file: %v", err)
	}
	if _, err := fleetweb.Listen(fleetweb.Config{Listen: ":0"}, fleetweb.Deps{Fleet: sf.fleet}); err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("plain on every interface: %v", err)
	}
}
