package confsig

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
)

// t0 is the injected "now" of the tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newKey returns a fresh ops key.
func newKey(t testing.TB) *OpsKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	must.NoError(t, err)
	return &OpsKey{Key: priv}
}

// seededKey returns a deterministic ops key, for fuzz seeds.
func seededKey(b byte) *OpsKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = b
	return &OpsKey{Key: ed25519.NewKeyFromSeed(seed)}
}

// cfgYAML returns a small valid configuration for gateway id at version.
func cfgYAML(id string, version uint64) []byte {
	return fmt.Appendf(nil, `# comment that is not signed
version: %d
gateway: {id: %s}
uplink:
  broker: mqtts://10.0.0.1:8883
  ca: ca.pem
  cert: c.pem
  key: c.key
recipients:
  telemetry: telemetry.pub
devices:
  - name: air
    driver: bme280
    interval: 10s
    class: telemetry
`, version, id)
}

// mustSign signs cfgYAML(id, version) for target with key, no window.
func mustSign(t testing.TB, key *OpsKey, version uint64, target Target, id string) []byte {
	t.Helper()
	doc, err := Sign(key, version, target, time.Time{}, time.Time{}, cfgYAML(id, version))
	must.NoError(t, err)
	return doc
}

// wantReject checks that err is a *RejectError with reason and, when
// substr is not empty, a message containing it.
func wantReject(t *testing.T, err error, reason, substr string) {
	t.Helper()
	var re *RejectError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v (%T), want *RejectError %s", err, err, reason)
	}
	if re.Reason != reason {
		t.Fatalf("reason = %s (%v), want %s", re.Reason, err, reason)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("err = %q, want it to contain %q", err, substr)
	}
}
