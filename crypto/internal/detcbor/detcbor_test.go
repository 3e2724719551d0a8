package detcbor_test

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/edgegw/edgegw/crypto/internal/detcbor"
	"github.com/edgegw/edgegw/internal/must"
)

type pair struct {
	A uint64   `cbor:"a"`
	B []string `cbor:"b"`
}

// TestDecode: the one deterministic encoding decodes; every other encoding
// of the same value, and what a strict decoder refuses, does not.
func TestDecode(t *testing.T) {
	dec := detcbor.Strict(detcbor.Limits{Nesting: 4, Array: 16, MapPairs: 16})
	good, err := detcbor.Enc.Marshal(pair{A: 1})
	must.NoError(t, err)
	if got := hex.EncodeToString(good); got != "a2616101616280" {
		t.Fatalf("Enc = %s, want a2616101616280 (nil slice as an empty array)", got)
	}
	var p pair
	if err := detcbor.Decode(dec, detcbor.Enc, good, &p); err != nil || p.A != 1 {
		t.Fatalf("Decode(%x) = %v, %+v", good, err, p)
	}
	for _, tt := range []struct {
		name, hex string
		canon     bool // refused as not canonical rather than by the decoder
	}{
		{"integer in a longer form", "a261611801616280", true},
		{"null for the empty array", "a26161016162f6", true},
		{"keys out of order", "a2616280616101", true},
		{"duplicate key", "a3616101616280616102", false},
		{"indefinite length", "bf616101616280ff", false},
		{"a tag", "a26161c101616280", false},
		{"unknown field", "a3616101616280616301", false},
		{"invalid UTF-8", "a261610161628161ff", false},
	} {
		b, err := hex.DecodeString(tt.hex)
		must.NoError(t, err)
		err = detcbor.Decode(dec, detcbor.Enc, b, &pair{})
		if err == nil || errors.Is(err, detcbor.ErrNotCanonical) != tt.canon {
			t.Errorf("%s: Decode(%x) = %v; want refused (as not canonical: %t)", tt.name, b, err, tt.canon)
		}
	}
}
