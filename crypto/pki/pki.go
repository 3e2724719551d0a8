package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/edgegw/edgegw/internal/atomicfile"
)

// clockSkew backdates NotBefore so that a peer whose clock is slightly behind
// accepts a freshly issued certificate.
const clockSkew = 5 * time.Minute

// CA is an in-memory certificate authority that signs server and client
// certificates. It is safe for concurrent use once created.
type CA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// NewCA creates a self-signed CA with common name cn, valid from now (minus a
// few minutes for clock skew) for validity, which must be positive.
func NewCA(cn string, validity time.Duration) (*CA, error) {
	if cn == "" {
		return nil, errors.New("pki: new ca: empty common name")
	}
	if validity <= 0 {
		return nil, fmt.Errorf("pki: new ca %s: validity %v not positive", cn, validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: new ca %s: generate key: %w", cn, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("pki: new ca %s: %w", cn, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"edgegw"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: new ca %s: create certificate: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: new ca %s: parse certificate: %w", cn, err)
	}
	return &CA{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, nil
}

// CertPEM returns the CA certificate, PEM encoded: the file clients and
// brokers pin as their only trusted root.
func (ca *CA) CertPEM() []byte {
	return append([]byte(nil), ca.certPEM...)
}

// Certificate returns the parsed CA certificate.
func (ca *CA) Certificate() *x509.Certificate {
	return ca.cert
}

// Issue creates a key pair and a certificate for cn signed by the CA, valid
// for validity (which must be positive). A server certificate (server true)
// gets ExtKeyUsageServerAuth and one subject alternative name per entry of
// hosts: an IP SAN when the entry parses as an IP address (such as
// "127.0.0.1"), a DNS SAN otherwise (such as "localhost"). A client
// certificate gets ExtKeyUsageClientAuth, and its common name is the broker
// identity (the gateway id); hosts is ignored for it. Both are returned PEM
// encoded.
func (ca *CA) Issue(cn string, server bool, hosts []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if validity <= 0 {
		return nil, nil, fmt.Errorf("pki: issue %s: validity %v not positive", cn, validity)
	}
	now := time.Now()
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	return ca.IssueBetween(cn, server, hosts, now.Add(-clockSkew), notAfter)
}

// IssueBetween is Issue with an explicit validity period, which may lie in
// the past: tests use it for expired certificates.
func (ca *CA) IssueBetween(cn string, server bool, hosts []string, notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	if cn == "" {
		return nil, nil, errors.New("pki: issue: empty common name")
	}
	if !notAfter.After(notBefore) {
		return nil, nil, fmt.Errorf("pki: issue %s: not after %v is not after not before %v", cn, notAfter, notBefore)
	}
	if server && len(hosts) == 0 {
		return nil, nil, fmt.Errorf("pki: issue %s: server certificate without hosts", cn)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue %s: generate key: %w", cn, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue %s: %w", cn, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"edgegw"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue %s: create certificate: %w", cn, err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue %s: %w", cn, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// WriteFiles writes cert to <dir>/<name>.pem (mode 0644) and key to
// <dir>/<name>.key (mode 0600), creating dir (mode 0755) if needed. A nil key
// writes only the certificate. Existing files are replaced and their modes
// reset, so a key never stays readable by others.
func WriteFiles(dir, name string, cert, key []byte) error {
	if name == "" || filepath.Base(name) != name {
		return fmt.Errorf("pki: write files: invalid name %q", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("pki: write files %s: %w", name, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, name+".pem"), cert, 0o644); err != nil {
		return fmt.Errorf("pki: write files %s: %w", name, err)
	}
	if key == nil {
		return nil
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, name+".key"), key, 0o600); err != nil {
		return fmt.Errorf("pki: write files %s: %w", name, err)
	}
	return nil
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
