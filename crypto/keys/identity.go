package keys

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// File names used in a key directory.
const (
	IdentityKeyFile  = "identity.key"
	IdentityPubFile  = "identity.pub"
	RecipientKeyFile = "recipient.key"
	RecipientPubFile = "recipient.pub"
)

// identityPrefix starts the one-line public identity format.
const identityPrefix = "edgegw-ed25519"

// KIDSize is the size in bytes of a key id.
const KIDSize = 8

// maxIDLen is the maximum length of a gateway id in bytes.
const maxIDLen = 128

// Identity is a gateway's Ed25519 signing identity.
type Identity struct {
	ID  string             // gateway id, as used in MQTT topics and envelope headers
	Key ed25519.PrivateKey // signing key
}

// PublicIdentity is the public half of an Identity, as a backend pins it.
type PublicIdentity struct {
	ID  string            // gateway id
	Key ed25519.PublicKey // verification key, 32 bytes
}

// Public returns the public half of id.
func (id *Identity) Public() PublicIdentity {
	return PublicIdentity{ID: id.ID, Key: id.Key.Public().(ed25519.PublicKey)}
}

// KID returns the key id of p: the first 8 bytes of SHA-256 of the raw 32-byte
// public key.
func (p PublicIdentity) KID() []byte { return kid(p.Key) }

// String returns p in the one-line format
// "edgegw-ed25519 <base64 std of the key> <id>" (without a newline).
func (p PublicIdentity) String() string {
	return identityPrefix + " " + base64.StdEncoding.EncodeToString(p.Key) + " " + p.ID
}

// ValidateID checks that id can be used as a gateway id or data class: 1 to 128
// bytes, each a visible ASCII character ('!' to '~') other than the MQTT topic
// specials '/', '+' and '#' (docs/envelope.md). ASCII only, so that every
// receiver, in any language, draws the same line.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("empty id")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("id %.16q...: longer than %d bytes", id, maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < '!' || c > '~' || c == '/' || c == '+' || c == '#' {
			return fmt.Errorf("id %q: invalid character %q", id, c)
		}
	}
	return nil
}

// ParsePublicIdentity parses the one-line format written by String; surrounding
// white space is ignored.
func ParsePublicIdentity(line string) (PublicIdentity, error) {
	k, rest, err := ParseKeyLine(line, identityPrefix+" <base64 key> <id>")
	if err != nil {
		return PublicIdentity{}, fmt.Errorf("public identity: %w", err)
	}
	if len(rest) != 1 {
		return PublicIdentity{}, fmt.Errorf("public identity: want %q", identityPrefix+" <base64 key> <id>")
	}
	if err := ValidateID(rest[0]); err != nil {
		return PublicIdentity{}, fmt.Errorf("public identity: %w", err)
	}
	return PublicIdentity{ID: rest[0], Key: k}, nil
}

// ParseKeyLine parses a line of a public key file, "<prefix> <base64
// Ed25519 public key> <fields>", as format describes it (its first word is
// the prefix); surrounding white space is ignored. It returns the key and
// the fields after it.
func ParseKeyLine(line, format string) (ed25519.PublicKey, []string, error) {
	prefix, _, _ := strings.Cut(format, " ")
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != prefix {
		return nil, nil, fmt.Errorf("want %q", format)
	}
	k, err := base64.StdEncoding.Strict().DecodeString(f[1])
	if err != nil {
		return nil, nil, fmt.Errorf("key: %w", err)
	}
	if len(k) != ed25519.PublicKeySize {
		return nil, nil, fmt.Errorf("key is %d bytes, want %d", len(k), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(k), f[2:], nil
}

// LoadPublicIdentity reads a public identity file (one line, see String).
func LoadPublicIdentity(path string) (PublicIdentity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return PublicIdentity{}, fmt.Errorf("load public identity: %w", err)
	}
	p, err := ParsePublicIdentity(string(b))
	if err != nil {
		return PublicIdentity{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// InitIdentity generates a new Ed25519 identity for gateway id and writes
// dir/identity.key (PKCS#8 PEM, mode 0600) and dir/identity.pub, creating dir
// with mode 0700 if needed. It refuses an id that is not a valid gateway id
// (CheckGatewayID), and to overwrite existing files unless force is set.
func InitIdentity(dir, id string, force bool) error {
	if err := CheckGatewayID(id); err != nil {
		return fmt.Errorf("init identity: %w", err)
	}
	err := WriteKeyPair(dir, IdentityKeyFile, IdentityPubFile, force, func() ([]byte, []byte, error) {
		pub, keyPEM, err := NewEd25519PEM()
		if err != nil {
			return nil, nil, err
		}
		return keyPEM, []byte(PublicIdentity{ID: id, Key: pub}.String() + "\n"), nil
	})
	if err != nil {
		return fmt.Errorf("init identity: %w", err)
	}
	return nil
}

// LoadIdentity reads dir/identity.key and dir/identity.pub. It refuses a private
// key file accessible by group or others, and a public file that does not match
// the private key.
func LoadIdentity(dir string) (*Identity, error) {
	keyPath := filepath.Join(dir, IdentityKeyFile)
	priv, err := LoadEd25519(keyPath)
	if err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	pub, err := LoadPublicIdentity(filepath.Join(dir, IdentityPubFile))
	if err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	if !pub.Key.Equal(priv.Public()) {
		return nil, fmt.Errorf("load identity: %s does not match %s", IdentityPubFile, keyPath)
	}
	return &Identity{ID: pub.ID, Key: priv}, nil
}

// kid returns the first KIDSize bytes of SHA-256 of b.
func kid(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:KIDSize:KIDSize]
}
