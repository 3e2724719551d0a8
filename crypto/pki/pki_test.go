package pki_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/pki"
	"github.com/edgegw/edgegw/internal/must"
)

func parse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("no certificate in %q", certPEM)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	must.NoError(t, err)
	return c
}

func TestIssueVerifies(t *testing.T) {
	ca, err := pki.NewCA("edgegw test ca", time.Hour)
	must.NoError(t, err)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca.CertPEM()) {
		t.Fatal("ca certificate does not parse")
	}

	t.Run("server", func(t *testing.T) {
		certPEM, keyPEM, err := ca.Issue("broker", true, []string{"127.0.0.1", "localhost"}, time.Hour)
		must.NoError(t, err)
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			t.Fatalf("key pair: %v", err)
		}
		c := parse(t, certPEM)
		for _, host := range []string{"127.0.0.1", "localhost"} {
			if _, err := c.Verify(x509.VerifyOptions{
				Roots:     roots,
				DNSName:   host,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			}); err != nil {
				t.Errorf("verify server for %s: %v", host, err)
			}
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
			t.Error("server certificate verifies for client auth")
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: "example.com"}); err == nil {
			t.Error("server certificate verifies for a host it does not name")
		}
	})

	t.Run("client", func(t *testing.T) {
		certPEM, keyPEM, err := ca.Issue("gw-001", false, nil, time.Hour)
		must.NoError(t, err)
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			t.Fatalf("key pair: %v", err)
		}
		c := parse(t, certPEM)
		if c.Subject.CommonName != "gw-001" {
			t.Errorf("common name %q, want gw-001", c.Subject.CommonName)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("verify client: %v", err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
			t.Error("client certificate verifies for server auth")
		}
	})

	t.Run("other ca", func(t *testing.T) {
		other, err := pki.NewCA("other", time.Hour)
		must.NoError(t, err)
		certPEM, _, err := other.Issue("gw-001", false, nil, time.Hour)
		must.NoError(t, err)
		if _, err := parse(t, certPEM).Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
			t.Error("certificate from another ca verifies")
		}
	})
}

func TestIssueErrors(t *testing.T) {
	ca, err := pki.NewCA("ca", time.Hour)
	must.NoError(t, err)
	for _, tc := range []struct {
		name     string
		cn       string
		server   bool
		hosts    []string
		validity time.Duration
		want     string
	}{
		{"empty cn", "", false, nil, time.Hour, "empty common name"},
		{"zero validity", "gw", false, nil, 0, "not positive"},
		{"server without hosts", "broker", true, nil, time.Hour, "without hosts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ca.Issue(tc.cn, tc.server, tc.hosts, tc.validity)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWriteFiles(t *testing.T) {
	ca, err := pki.NewCA("ca", time.Hour)
	must.NoError(t, err)
	certPEM, keyPEM, err := ca.Issue("gw-001", false, nil, time.Hour)
	must.NoError(t, err)
	dir := t.TempDir() + "/certs"
	must.NoError(t, pki.WriteFiles(dir, "gw-001", certPEM, keyPEM))
	certFile, keyFile := filepath.Join(dir, "gw-001.pem"), filepath.Join(dir, "gw-001.key")
	fi, err := os.Stat(keyFile)
	must.NoError(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Errorf("load key pair: %v", err)
	}
	if err := pki.WriteFiles(dir, "../escape", certPEM, keyPEM); err == nil {
		t.Error("name with a path accepted")
	}
}
