package receipt

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
)

// LoadKeys reads the files of ingest identities a gateway pins to verify
// receipts. Each file holds one or more lines in the format of
// keys.PublicIdentity.String, read as envelope.LoadTrust reads a trust file
// (blank lines and lines starting with '#' are ignored; an error names the
// file and line); a file without any identity is an error too. The
// identities come back ordered by id.
func LoadKeys(paths ...string) ([]keys.PublicIdentity, error) {
	var out []keys.PublicIdentity
	for _, path := range paths {
		t, err := envelope.LoadTrust(path)
		if err != nil {
			return nil, fmt.Errorf("receipt keys: %w", err)
		}
		if len(t) == 0 {
			return nil, fmt.Errorf("receipt keys: %s: no public identity line (edgegw-ed25519 <base64 key> <id>)", path)
		}
		out = append(out, slices.Collect(maps.Values(t))...)
	}
	slices.SortFunc(out, func(a, b keys.PublicIdentity) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), bytes.Compare(a.Key, b.Key))
	})
	return out, nil
}
