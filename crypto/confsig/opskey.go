package confsig

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/edgegw/edgegw/crypto/keys"
)

// File names written by InitOps.
const (
	OpsKeyFile = "ops.key"
	OpsPubFile = "ops.pub"
)

// opsPrefix starts the one-line ops public key format.
const opsPrefix = "edgegw-ops-ed25519"

// KID is a key id: the first 8 bytes of SHA-256 of a raw Ed25519 public key.
type KID [keys.KIDSize]byte

// String returns the key id in lowercase hex.
func (k KID) String() string { return hex.EncodeToString(k[:]) }

// kidOf returns the key id of pub (as keys.PublicIdentity.KID computes it).
func kidOf(pub ed25519.PublicKey) KID {
	return KID(keys.PublicIdentity{Key: pub}.KID())
}

// OpsKey is a fleet operations signing key. It lives with the operations
// team (or its HSM-backed pipeline), never on a gateway.
type OpsKey struct {
	Key ed25519.PrivateKey
}

// Public returns the public half of k.
func (k *OpsKey) Public() OpsPublic {
	return OpsPublic{Key: k.Key.Public().(ed25519.PublicKey)}
}

// OpsPublic is an ops public key as a gateway pins it.
type OpsPublic struct {
	Key     ed25519.PublicKey // 32 bytes
	Comment string            // free text from the key file; not signed
}

// KID returns the key id of p.
func (p OpsPublic) KID() KID { return kidOf(p.Key) }

// String returns p in the one-line format
// "edgegw-ops-ed25519 <base64 std of the key> [comment]" (without a newline).
func (p OpsPublic) String() string {
	s := opsPrefix + " " + base64.StdEncoding.EncodeToString(p.Key)
	if p.Comment != "" {
		s += " " + p.Comment
	}
	return s
}

// ParseOpsPublic parses the one-line format written by OpsPublic.String;
// surrounding white space is ignored and the comment may hold spaces.
func ParseOpsPublic(line string) (OpsPublic, error) {
	k, rest, err := keys.ParseKeyLine(line, opsPrefix+" <base64 key> [comment]")
	if err != nil {
		return OpsPublic{}, fmt.Errorf("ops public key: %w", err)
	}
	return OpsPublic{Key: k, Comment: strings.Join(rest, " ")}, nil
}

// OpsTrust is the set of ops public keys a gateway pins, by key id.
type OpsTrust map[KID]OpsPublic

// NewOpsTrust returns an OpsTrust holding pubs.
func NewOpsTrust(pubs ...OpsPublic) OpsTrust {
	t := make(OpsTrust, len(pubs))
	for _, p := range pubs {
		t[p.KID()] = p
	}
	return t
}

// Sorted returns the keys of t ordered by key bytes.
func (t OpsTrust) Sorted() []OpsPublic {
	ps := make([]OpsPublic, 0, len(t))
	for _, p := range t {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b OpsPublic) int { return bytes.Compare(a.Key, b.Key) })
	return ps
}

// Marshal returns t in the file format LoadOpsPublic reads: one line per key,
// ordered by key bytes.
func (t OpsTrust) Marshal() []byte {
	var b bytes.Buffer
	for _, p := range t.Sorted() {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// LoadOpsPublic reads files of ops public key lines (see OpsPublic.String)
// into a trust set; blank lines and lines starting with '#' are ignored. It
// fails if the files hold no key, so a gateway never pins an empty set.
func LoadOpsPublic(paths ...string) (OpsTrust, error) {
	t := make(OpsTrust)
	err := keys.ReadLines(paths, func(line string) error {
		p, err := ParseOpsPublic(line)
		if err != nil {
			return err
		}
		if old, ok := t[p.KID()]; ok && !old.Key.Equal(p.Key) {
			return fmt.Errorf("key id %s already used by another key", p.KID())
		}
		t[p.KID()] = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load ops public keys: %w", err)
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("load ops public keys: no key in %s", strings.Join(paths, ", "))
	}
	return t, nil
}

// InitOps generates an Ed25519 ops signing key and writes dir/ops.key
// (PKCS#8 PEM, mode 0600) and dir/ops.pub (mode 0644, with the key id as
// comment), creating dir with mode 0700 if needed. It refuses to overwrite
// existing files unless force is set.
func InitOps(dir string, force bool) error {
	err := keys.WriteKeyPair(dir, OpsKeyFile, OpsPubFile, force, func() ([]byte, []byte, error) {
		pub, keyPEM, err := keys.NewEd25519PEM()
		if err != nil {
			return nil, nil, err
		}
		p := OpsPublic{Key: pub, Comment: "kid:" + kidOf(pub).String()}
		return keyPEM, []byte(p.String() + "\n"), nil
	})
	if err != nil {
		return fmt.Errorf("init ops key: %w", err)
	}
	return nil
}

// LoadOpsKey reads an ops private key file (PKCS#8 PEM), refusing one that
// is accessible by group or others (keys.CheckPrivateFileMode).
func LoadOpsKey(path string) (*OpsKey, error) {
	priv, err := keys.LoadEd25519(path)
	if err != nil {
		return nil, fmt.Errorf("load ops key: %w", err)
	}
	return &OpsKey{Key: priv}, nil
}
