package meteremu_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers/modbusmeter"
	"github.com/edgegw/edgegw/drivers/sim/meteremu"
	"github.com/edgegw/edgegw/internal/must"
)

func TestFrameCRC(t *testing.T) {
	// Vectors from shared/reference/meters.md.
	tests := []struct{ in, want string }{
		{"010400000002", "01040000000271cb"},
		{"01030000000a", "01030000000ac5cd"},
		{"01040443660000", "010404436600000e1f"},
		{"018402", "018402c2c1"},
		{"01030bd30002", "01030bd3000237d6"},
	}
	for _, tt := range tests {
		b, _ := hex.DecodeString(tt.in)
		if got := hex.EncodeToString(meteremu.Frame(b[0], b[1:])); got != tt.want {
			t.Errorf("Frame(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestRespond(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	e, err := meteremu.New(meteremu.Config{Units: []meteremu.Unit{{ID: 1, Profile: "sdm630"}}, Now: func() time.Time { return now }})
	must.NoError(t, err)
	req := func(fc byte, addr, count uint16) []byte {
		return meteremu.Frame(1, []byte{fc, byte(addr >> 8), byte(addr), byte(count >> 8), byte(count)})
	}
	tests := []struct {
		name  string
		fault meteremu.Fault
		order modbusmeter.Order
		req   []byte
		check func(t *testing.T, reply []byte, ok bool)
	}{
		{"frequency ABCD", meteremu.Fault{}, "", req(4, 0x46, 2), func(t *testing.T, r []byte, ok bool) {
			if !ok || len(r) != 9 || r[3] != 0x42 || r[4] != 0x47 && r[4] != 0x48 {
				t.Errorf("reply % x", r)
			}
		}},
		{"frequency CDAB", meteremu.Fault{}, modbusmeter.CDAB, req(4, 0x46, 2), func(t *testing.T, r []byte, ok bool) {
			if !ok || r[5] != 0x42 {
				t.Errorf("reply % x", r)
			}
		}},
		{"too many registers", meteremu.Fault{}, "", req(4, 0, 100), func(t *testing.T, r []byte, ok bool) {
			if !ok || r[1] != 0x84 || r[2] != 3 {
				t.Errorf("reply % x", r)
			}
		}},
		{"illegal function", meteremu.Fault{}, "", req(6, 0, 1), func(t *testing.T, r []byte, ok bool) {
			if !ok || r[1] != 0x86 || r[2] != 1 {
				t.Errorf("reply % x", r)
			}
		}},
		{"dead", meteremu.Fault{Dead: true}, "", req(4, 0, 2), func(t *testing.T, r []byte, ok bool) {
			if ok {
				t.Errorf("dead unit replied % x", r)
			}
		}},
		{"bad request crc", meteremu.Fault{}, "", append(req(4, 0, 2)[:7], 0), func(t *testing.T, r []byte, ok bool) {
			if ok {
				t.Errorf("replied to a corrupt request: % x", r)
			}
		}},
		{"bad crc", meteremu.Fault{BadCRC: true}, "", req(4, 0, 2), func(t *testing.T, r []byte, ok bool) {
			if good := meteremu.Frame(1, r[1:len(r)-2]); ok && string(good) == string(r) {
				t.Errorf("crc not corrupted: % x", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.SetFault(1, tt.fault)
			e.SetOrder(1, tt.order)
			r, _, ok := e.Respond(tt.req)
			tt.check(t, r, ok)
		})
	}
}
