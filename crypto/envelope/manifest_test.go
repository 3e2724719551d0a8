package envelope

import (
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
)

func TestManifest(t *testing.T) {
	id := testIdentity(t, "gw-001", 1)
	other := testIdentity(t, "gw-002", 2)
	m := Manifest{Gateway: "gw-001", Created: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Ranges: [][2]uint64{{3, 7}, {9, 9}}, Batches: 6, Readings: 600}
	signed, err := SignManifest(id, m)
	must.NoError(t, err)
	got, err := OpenManifest(signed, NewTrust(id.Public()))
	must.NoError(t, err)
	if got.Gateway != m.Gateway || !got.Created.Equal(m.Created) || len(got.Ranges) != 2 || got.Readings != 600 || !got.Contains(5) || got.Contains(8) {
		t.Errorf("OpenManifest = %+v", got)
	}
	if _, err := OpenManifest(signed, NewTrust(other.Public())); reasonOf(err) != ReasonUntrustedGateway {
		t.Errorf("untrusted gateway: %v", err)
	}
	for i := range signed {
		bad := append([]byte(nil), signed...)
		bad[i] ^= 0x01
		if _, err := OpenManifest(bad, NewTrust(id.Public())); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	if _, err := SignManifest(id, Manifest{Gateway: "gw-002"}); err == nil {
		t.Error("signed a manifest of another gateway")
	}
}
