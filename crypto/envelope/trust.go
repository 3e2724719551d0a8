package envelope

import (
	"fmt"

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
	err := keys.ReadLines(paths, func(line string) error {
		p, err := keys.ParsePublicIdentity(line)
		if err != nil {
			return err
		}
		if old, ok := t[p.ID]; ok && !old.Key.Equal(p.Key) {
			return fmt.Errorf("gateway %q already has a different key", p.ID)
		}
		t[p.ID] = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load trust: %w", err)
	}
	return t, nil
}
