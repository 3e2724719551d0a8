package confsig

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
)

// FuzzVerify checks that Verify and VerifyTrust never panic, that every
// failure is a *RejectError, and that the only document accepted is the
// signed seed itself: any other accepted input would be a forgery.
func FuzzVerify(f *testing.F) {
	key := seededKey(1)
	trust := NewOpsTrust(key.Public())
	valid, err := Sign(key, 2, ForGateways("gw-001", "gw-002"), t0.Add(-time.Hour), t0.Add(time.Hour), cfgYAML("gw-001", 2))
	must.NoError(f, err)
	tdoc, err := SignTrust(key, 1, ForGroup("north"), time.Time{}, time.Time{}, NewOpsTrust(key.Public(), seededKey(2).Public()))
	must.NoError(f, err)
	f.Add(valid)
	f.Add(tdoc)
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Policy{GatewayID: "gw-001", Group: "north", Running: 1, Now: t0}.Verify(data, trust)
		var re *RejectError
		if err != nil {
			if d != nil || !errors.As(err, &re) {
				t.Fatalf("Verify: %v (%T) with document %v", err, err, d != nil)
			}
		} else if !bytes.Equal(data, valid) {
			t.Fatalf("accepted a document that is not the signed one: %x", data)
		}
		u, err := Policy{GatewayID: "gw-001", Group: "north", Now: t0}.VerifyTrust(data, trust)
		if err != nil {
			if u != nil || !errors.As(err, &re) {
				t.Fatalf("VerifyTrust: %v (%T)", err, err)
			}
		} else if !bytes.Equal(data, tdoc) {
			t.Fatalf("accepted a trust document that is not the signed one: %x", data)
		}
	})
}
