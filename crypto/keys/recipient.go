package keys

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Suite identifies an HPKE ciphersuite (KEM, KDF, AEAD) used to seal envelope
// chunks. Its numeric value is part of the envelope contract (docs/envelope.md).
type Suite uint8

// Suites. Their values never change meaning.
const (
	// SuiteNone means no encryption; it is used only for gap records.
	SuiteNone Suite = 0
	// SuiteX25519 is DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 /
	// ChaCha20-Poly1305 (HPKE ids 0x0020, 0x0001, 0x0003), the default.
	SuiteX25519 Suite = 1
	// SuiteMLKEM768X25519 is the post-quantum hybrid MLKEM768-X25519 ("X-Wing")
	// / HKDF-SHA256 / ChaCha20-Poly1305 (HPKE ids 0x647a, 0x0001, 0x0003).
	SuiteMLKEM768X25519 Suite = 2
)

// recipientPEMType is the PEM block type of a recipient private key file.
const recipientPEMType = "EDGEGW HPKE PRIVATE KEY"

// recipientPrefix starts the one-line recipient public key format; the suite
// name follows it.
const recipientPrefix = "edgegw-hpke-"

// ParseSuite parses a suite name: "x25519" or "mlkem768x25519".
func ParseSuite(s string) (Suite, error) {
	switch s {
	case "x25519":
		return SuiteX25519, nil
	case "mlkem768x25519":
		return SuiteMLKEM768X25519, nil
	}
	return 0, fmt.Errorf("unknown suite %q (want x25519 or mlkem768x25519)", s)
}

// String returns the suite name accepted by ParseSuite, "none" for SuiteNone.
func (s Suite) String() string {
	switch s {
	case SuiteNone:
		return "none"
	case SuiteX25519:
		return "x25519"
	case SuiteMLKEM768X25519:
		return "mlkem768x25519"
	}
	return fmt.Sprintf("suite(%d)", uint8(s))
}

// Encrypted reports whether s is a known encrypting suite.
func (s Suite) Encrypted() bool { return s == SuiteX25519 || s == SuiteMLKEM768X25519 }

// KEM returns the HPKE KEM of s, or nil if s does not encrypt.
func (s Suite) KEM() hpke.KEM {
	switch s {
	case SuiteX25519:
		return hpke.DHKEM(ecdhX25519())
	case SuiteMLKEM768X25519:
		return hpke.MLKEM768X25519()
	}
	return nil
}

// KDF returns the HPKE KDF of s, or nil if s does not encrypt.
func (s Suite) KDF() hpke.KDF {
	if !s.Encrypted() {
		return nil
	}
	return hpke.HKDFSHA256()
}

// AEAD returns the HPKE AEAD of s, or nil if s does not encrypt.
func (s Suite) AEAD() hpke.AEAD {
	if !s.Encrypted() {
		return nil
	}
	return hpke.ChaCha20Poly1305()
}

// EncSize returns the size in bytes of the HPKE encapsulated key of s (32 for
// x25519, 1120 for mlkem768x25519), 0 if s does not encrypt.
func (s Suite) EncSize() int {
	switch s {
	case SuiteX25519:
		return 32
	case SuiteMLKEM768X25519:
		return 1120
	}
	return 0
}

// RecipientPublic is the public HPKE key of a data class's recipient.
type RecipientPublic struct {
	Suite Suite
	Key   hpke.PublicKey
}

// KID returns the key id of r: the first 8 bytes of SHA-256 of the serialized
// public key.
func (r *RecipientPublic) KID() []byte { return kid(r.Key.Bytes()) }

// String returns r in the one-line format "edgegw-hpke-<suite> <base64>".
func (r *RecipientPublic) String() string {
	return recipientPrefix + r.Suite.String() + " " + base64.StdEncoding.EncodeToString(r.Key.Bytes())
}

// ParseRecipientPublic parses the one-line format
// "edgegw-hpke-<suite> <base64 std> [comment]".
func ParseRecipientPublic(line string) (*RecipientPublic, error) {
	if strings.Contains(line, "-----BEGIN "+recipientPEMType+"-----") {
		return nil, ErrRecipientPrivate
	}
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], recipientPrefix) {
		return nil, fmt.Errorf("recipient public key: want %q<suite> <base64 key> [comment]", recipientPrefix)
	}
	s, err := ParseSuite(strings.TrimPrefix(f[0], recipientPrefix))
	if err != nil {
		return nil, fmt.Errorf("recipient public key: %w", err)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(f[1])
	if err != nil {
		return nil, fmt.Errorf("recipient public key: %w", err)
	}
	pk, err := s.KEM().NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("recipient public key: %w", err)
	}
	return &RecipientPublic{Suite: s, Key: pk}, nil
}

// ErrRecipientPrivate is returned where a recipient public key belongs and a
// recipient private key was given.
var ErrRecipientPrivate = errors.New("this is a recipient PRIVATE key, which opens the readings and must never be on a gateway: use its .pub file")

// LoadRecipientPublic reads a recipient public key file.
func LoadRecipientPublic(path string) (*RecipientPublic, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load recipient public key: %w", err)
	}
	r, err := ParseRecipientPublic(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// RecipientPrivate is the private HPKE key of a data class's recipient. It lives
// with the backend, never on a gateway.
type RecipientPrivate struct {
	Suite Suite
	Key   hpke.PrivateKey
}

// KID returns the key id of the public half of r (see RecipientPublic.KID).
func (r *RecipientPrivate) KID() []byte { return kid(r.Key.PublicKey().Bytes()) }

// Public returns the public half of r.
func (r *RecipientPrivate) Public() *RecipientPublic {
	return &RecipientPublic{Suite: r.Suite, Key: r.Key.PublicKey()}
}

// NewRecipientPrivate wraps a KEM private key of suite s, checking that they
// match.
func NewRecipientPrivate(s Suite, k hpke.PrivateKey) (*RecipientPrivate, error) {
	if !s.Encrypted() {
		return nil, fmt.Errorf("recipient key: suite %s does not encrypt", s)
	}
	if k.KEM().ID() != s.KEM().ID() {
		return nil, fmt.Errorf("recipient key: KEM %#04x does not match suite %s", k.KEM().ID(), s)
	}
	return &RecipientPrivate{Suite: s, Key: k}, nil
}

// MarshalPEM returns r as a PEM block of type "EDGEGW HPKE PRIVATE KEY" with a
// "Suite" header. The caller should clear the result after use.
func (r *RecipientPrivate) MarshalPEM() ([]byte, error) {
	b, err := r.Key.Bytes()
	if err != nil {
		return nil, fmt.Errorf("recipient key: %w", err)
	}
	defer clear(b)
	return pem.EncodeToMemory(&pem.Block{
		Type:    recipientPEMType,
		Headers: map[string]string{"Suite": r.Suite.String()},
		Bytes:   b,
	}), nil
}

// ParseRecipientPrivate parses the PEM form written by MarshalPEM.
func ParseRecipientPrivate(data []byte) (*RecipientPrivate, error) {
	blk, rest := pem.Decode(data)
	if blk == nil || blk.Type != recipientPEMType || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("recipient key: want one PEM %q block", recipientPEMType)
	}
	defer clear(blk.Bytes)
	s, err := ParseSuite(blk.Headers["Suite"])
	if err != nil {
		return nil, fmt.Errorf("recipient key: %w", err)
	}
	k, err := s.KEM().NewPrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("recipient key: %w", err)
	}
	return &RecipientPrivate{Suite: s, Key: k}, nil
}

// LoadRecipientPrivate reads a recipient private key file, refusing one that is
// accessible by group or others.
func LoadRecipientPrivate(path string) (*RecipientPrivate, error) {
	b, err := readPrivateFile(path)
	if err != nil {
		return nil, fmt.Errorf("load recipient key: %w", err)
	}
	defer clear(b)
	r, err := ParseRecipientPrivate(b)
	if err != nil {
		return nil, fmt.Errorf("load recipient key: %s: %w", path, err)
	}
	return r, nil
}

// GenerateRecipient generates a recipient key pair of suite s and writes
// dir/recipient.key (mode 0600) and dir/recipient.pub, creating dir with mode
// 0700 if needed. It refuses to overwrite existing files unless force is set.
func GenerateRecipient(dir string, s Suite, force bool) error {
	return GenerateRecipientNamed(dir, RecipientName, s, force)
}

// RecipientName is the default name of a recipient key pair: the files
// recipient.key and recipient.pub.
const RecipientName = "recipient"

// GenerateRecipientNamed is GenerateRecipient writing dir/NAME.key and
// dir/NAME.pub, e.g. ops.recipient.key and ops.recipient.pub for the name
// "ops.recipient". A name is a plain file name without the .key or .pub
// suffix.
func GenerateRecipientNamed(dir, name string, s Suite, force bool) error {
	if err := CheckKeyName(name); err != nil {
		return fmt.Errorf("generate recipient key: %w", err)
	}
	if !s.Encrypted() {
		return fmt.Errorf("generate recipient key: suite %s does not encrypt", s)
	}
	err := WriteKeyPair(dir, name+".key", name+".pub", force, func() ([]byte, []byte, error) {
		k, err := s.KEM().GenerateKey()
		if err != nil {
			return nil, nil, err
		}
		r := &RecipientPrivate{Suite: s, Key: k}
		keyPEM, err := r.MarshalPEM()
		if err != nil {
			return nil, nil, err
		}
		return keyPEM, []byte(r.Public().String() + "\n"), nil
	})
	if err != nil {
		return fmt.Errorf("generate recipient key: %w", err)
	}
	return nil
}

// CheckKeyName checks the name of a key pair: a plain file name (no
// directory, not hidden) that does not already end in .key or .pub.
func CheckKeyName(name string) error {
	switch {
	case name == "":
		return errors.New("key name is empty")
	case strings.ContainsAny(name, "/\\") || name == "." || name == "..":
		return fmt.Errorf("key name %q is not a plain file name (use the directory option for where it goes)", name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("key name %q starts with a dot", name)
	case strings.HasSuffix(name, ".key"), strings.HasSuffix(name, ".pub"):
		return fmt.Errorf("key name %q: give it without .key or .pub (both files are written)", name)
	}
	return nil
}

// ecdhX25519 returns the X25519 curve.
func ecdhX25519() ecdh.Curve { return ecdh.X25519() }
