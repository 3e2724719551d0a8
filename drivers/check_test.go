package drivers_test

import (
	"strings"
	"testing"

	"github.com/edgegw/edgegw/drivers"
	_ "github.com/edgegw/edgegw/drivers/bme280"
	_ "github.com/edgegw/edgegw/drivers/modbusmeter"
	_ "github.com/edgegw/edgegw/drivers/sim"
)

// TestCheck: Check runs a driver's own option checks and stops at its bus,
// opening nothing: a bus that does not exist on this machine passes, an
// option, model or profile the driver does not know fails with its name,
// and so does a bus prefix no provider in this build serves.
func TestCheck(t *testing.T) {
	tests := []struct {
		name, kind string
		dev        drivers.Device
		want       string // "" for valid
	}{
		{"bme280 on a bus that is not here", "bme280", drivers.Device{Name: "env", Options: map[string]any{"bus": "/dev/i2c-97", "addr": 0x77}}, ""},
		{"bme280 address for addr", "bme280", drivers.Device{Name: "env", Options: map[string]any{"bus": "/dev/i2c-1", "address": 0x76}}, "options.address: unknown option (want addr, bus"},
		{"bme280 addr out of range", "bme280", drivers.Device{Name: "env", Options: map[string]any{"addr": 0x90}}, "options.addr: 0x90 outside 0x76–0x77"},
		{"emulated bus", "bme280", drivers.Device{Name: "env", Options: map[string]any{"bus": "sim:i2c-1"}}, ""},
		{"bus prefix without provider", "bme280", drivers.Device{Name: "env", Options: map[string]any{"bus": "lab:i2c-1"}}, `no provider for "lab" buses`},
		{"meter on a port that is not here", "modbusmeter", drivers.Device{Name: "m", Options: map[string]any{"port": "/dev/ttyUSB9", "unit": 1, "profile": "sdm630"}}, ""},
		{"meter slave for unit", "modbusmeter", drivers.Device{Name: "m", Options: map[string]any{"port": "/dev/ttyUSB0", "slave": 1, "profile": "sdm630"}}, "options.slave: unknown option"},
		{"meter profile unknown", "modbusmeter", drivers.Device{Name: "m", Options: map[string]any{"port": "/dev/ttyUSB0", "unit": 1, "profile": "sdm360"}}, `options.profile: "sdm360" is neither a shipped profile`},
		{"sim model unknown", "sim", drivers.Device{Name: "s", Model: "toaster"}, `model: "toaster" is not a sim model`},
		{"sim trace not created", "sim", drivers.Device{Name: "s", Options: map[string]any{"trace": "/nonexistent/dir/trace"}}, ""},
		{"unknown kind", "toaster", drivers.Device{Name: "t"}, `"toaster" is not a known driver`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := drivers.Check(tt.kind, tt.dev)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Check = %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Check = %v, want %q", err, tt.want)
			}
		})
	}
}
