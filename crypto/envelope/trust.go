package envelope

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/edgegw/edgegw/crypto/keys"
)

// Trust maps a gateway id to the public identity pinned for it. Verify accepts
// a batch only if the header's gateway id is in the map and the trailer was
// signed by that identity's key.
type Trust map[string]keys.PublicIdentity

// NewTrust returns a Trust holding ids; a later entry replaces an earlier one
// with the same gateway id.
func NewTrust(ids ...keys.PublicIdentity) Trust {
	t := make(Trust, len(ids))
	for _, id := range ids {
		t[id.ID] = id
	}
	return t
}

// LoadTrust reads public identity files: each holds one or more lines in the
// format of keys.PublicIdentity.String; blank lines and lines starting with '#'
// are ignored. It rejects a gateway id listed twice with different keys.
func LoadTrust(paths ...string) (Trust, error) {
	t := make(Trust)
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("load trust: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			p, err := keys.ParsePublicIdentity(line)
			if err != nil {
				return nil, fmt.Errorf("load trust: %s:%d: %w", path, n, err)
			}
			if old, ok := t[p.ID]; ok && !old.Key.Equal(p.Key) {
				return nil, fmt.Errorf("load trust: %s:%d: gateway %q already has a different key", path, n, p.ID)
			}
			t[p.ID] = p
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("load trust: %s: %w", path, err)
		}
	}
	return t, nil
}
