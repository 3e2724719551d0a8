//go:build !custom || drivers.modbusmeter

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/modbusmeter"
	"github.com/edgegw/edgegw/internal/must"
)

// decodeStrict decodes out into v, refusing fields v does not have: the
// JSON of a command has exactly its documented fields.
func decodeStrict(t *testing.T, what, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, out)
	}
}

// TestIntegrationJSONOutput runs the binary's commands that print data with
// --json, as a script does, and decodes what they print into the documented
// shapes (docs/operations.md, "Output for scripts").
func TestIntegrationJSONOutput(t *testing.T) {
	t.Run("selftest", func(t *testing.T) {
		out, errOut, code := runBinary(t, "selftest", "--json")
		var st selftestOutput
		decodeStrict(t, "selftest --json", out, &st)
		if code != 0 || !st.Pass || len(st.Checks) != 5 || !st.Checks[0].Pass || st.Checks[0].Check != "seal and open (x25519)" || st.Checks[0].Detail == "" {
			t.Errorf("selftest --json: exit %d, %+v %s", code, st, errOut)
		}
	})
	t.Run("config validate", func(t *testing.T) {
		out, _, code := runBinary(t, "config", "validate", "--json", "../../configs/demo.yaml")
		var v validation
		decodeStrict(t, "config validate --json", out, &v)
		if code != 0 || !v.Valid || v.Gateway != "demo-gw" || v.Devices == nil || *v.Devices == 0 || v.Version == nil || len(v.Errors) != 0 {
			t.Errorf("config validate --json demo.yaml: exit %d, %+v", code, v)
		}
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		must.NoError(t, os.WriteFile(bad, []byte("gateway:\n  id: gw-001\n  colour: red\n"), 0o600))
		out, _, code = runBinary(t, "config", "validate", "--json", bad)
		v = validation{}
		decodeStrict(t, "config validate --json bad.yaml", out, &v)
		if code != 1 || v.Valid || v.File != bad || !slices.Contains(v.Errors, bad+":3: gateway.colour: unknown field") || len(v.Errors) < 2 || v.Devices != nil {
			t.Errorf("config validate --json bad.yaml: exit %d, %+v; want exit 1 and one error per line", code, v)
		}
	})
	t.Run("i2c scan", func(t *testing.T) {
		out, _, code := runBinary(t, "i2c", "scan", "--sim", "--json")
		var s scanResult
		decodeStrict(t, "i2c scan --json", out, &s)
		if code != 0 || s.Bus != "sim:i2c-1" || !slices.Contains(s.Devices, drivers.I2CDevice{Addr: 0x76, Chip: "BME280 (chip id 0x60)"}) {
			t.Errorf("i2c scan --sim --json: exit %d, %+v", code, s)
		}
	})
	t.Run("modbus profiles", func(t *testing.T) {
		out, _, code := runBinary(t, "modbus", "profiles", "--json")
		var list []profileSummary
		decodeStrict(t, "modbus profiles --json", out, &list)
		i := slices.IndexFunc(list, func(p profileSummary) bool { return p.Name == "sdm630" })
		if code != 0 || i < 0 || !list[i].Shipped || list[i].Points == 0 || list[i].Requests == 0 || list[i].WireMS <= 0 {
			t.Fatalf("modbus profiles --json: exit %d, %+v", code, list)
		}
		out, _, code = runBinary(t, "modbus", "profiles", "sdm630", "--json")
		var p profileDetail
		decodeStrict(t, "modbus profiles sdm630 --json", out, &p)
		if code != 0 || p.Name != "sdm630" || len(p.Points) != list[i].Points || p.Points[0].Channel == "" || p.Points[0].Unit == "" {
			t.Errorf("modbus profiles sdm630 --json: exit %d, %+v", code, p)
		}
	})
	t.Run("modbus scan", func(t *testing.T) {
		out, _, code := runBinary(t, "modbus", "scan", "--sim", "--units", "1-4", "--bauds", "9600", "--parity", "N", "--profile", "sdm630", "--json")
		var s scanOutput
		decodeStrict(t, "modbus scan --json", out, &s)
		var units []uint8
		for _, u := range s.Units {
			units = append(units, u.Unit)
		}
		if code != 0 || s.Probes != 4 || s.Total != 4 || !slices.Equal(units, []uint8{1, 2, 3}) ||
			s.Units[0].Baud != 9600 || s.Units[0].Parity != "N" || s.Units[0].Reply != "data" || len(s.Units[0].WordOrders) == 0 {
			t.Errorf("modbus scan --json: exit %d, %+v", code, s)
		}
	})
	t.Run("modbus read raw", func(t *testing.T) {
		out, _, code := runBinary(t, "modbus", "read", "--sim", "--unit", "1", "--register", "0", "--count", "4", "--json")
		var rows []struct {
			Addr      int
			Registers []uint16
			Value     float64
		}
		decodeStrict(t, "modbus read --register --json", out, &rows)
		if code != 0 || len(rows) != 2 || rows[1].Addr != 2 || len(rows[0].Registers) != 2 {
			t.Fatalf("modbus read --register --json: exit %d, %+v\n%s", code, rows, out)
		}
		want := float64(math.Float32frombits(uint32(rows[0].Registers[0])<<16 | uint32(rows[0].Registers[1])))
		if float32(rows[0].Value) != float32(want) || want < 200 || want > 260 {
			t.Errorf("value %v, the registers %04X decode to %v (ABCD)", rows[0].Value, rows[0].Registers, want)
		}
		if !regexp.MustCompile(`"registers": \[\s*\d+,\s*\d+\s*\]`).MatchString(out) {
			t.Errorf("registers are not a JSON array of numbers:\n%s", out)
		}
	})
}

// noisyNumber matches a JSON number with more significant digits than a
// float32 has: the float32-to-float64 noise of 15.265512466430664.
var noisyNumber = regexp.MustCompile(`[:\[,]\s*-?\d*\.?\d{10,}`)

// TestIntegrationReadingPrecision runs the binary's one-shot reads of the
// emulated chips and meters: text shows each value with its unit's
// precision and a space before the unit, JSON shows no float32 noise.
func TestIntegrationReadingPrecision(t *testing.T) {
	out, errOut, code := runBinary(t, "sensor", "read", "--driver", "bme280", "--sim")
	if code != 0 {
		t.Fatalf("sensor read: exit %d: %s", code, errOut)
	}
	for _, re := range []string{`(?m)^t\s+-?\d+\.\d\d °C\s+ok$`, `(?m)^rh\s+\d+\.\d\d %RH\s+ok$`, `(?m)^p\s+\d{3,4}\.\d\d hPa\s+ok$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("sensor read --driver bme280 does not match %s:\n%s", re, out)
		}
	}
	out, errOut, code = runBinary(t, "sensor", "read", "--driver", "bme280", "--sim", "--json")
	if code != 0 || strings.Count(out, "\n") != 3 || noisyNumber.MatchString(out) {
		t.Errorf("sensor read --json: exit %d, float noise or not 3 lines: %s%s", code, out, errOut)
	}

	out, errOut, code = runBinary(t, "modbus", "read", "--sim", "--unit", "1", "--profile", "sdm630")
	if code != 0 {
		t.Fatalf("modbus read: exit %d: %s", code, errOut)
	}
	p, err := modbusmeter.LoadProfile("sdm630")
	must.NoError(t, err)
	want := map[string]string{"V": `\d+\.\d\d V`, "A": `\d+\.\d{3} A`, "W": `-?\d+ W`, "kWh": `\d+\.\d\d kWh`, "Hz": `\d+\.\d\d Hz`}
	checked := 0
	for _, pt := range p.Points {
		if re, ok := want[string(pt.Unit)]; ok {
			checked++
			if !regexp.MustCompile(`(?m)^` + pt.Name + `\s+` + re + `\s`).MatchString(out) {
				t.Errorf("modbus read: %s (%s) is not printed as %s:\n%s", pt.Name, pt.Unit, re, out)
			}
		}
	}
	if checked < 5 {
		t.Errorf("only %d sdm630 points checked", checked)
	}
	out, _, code = runBinary(t, "modbus", "read", "--sim", "--unit", "1", "--profile", "sdm630", "--json")
	if code != 0 || noisyNumber.MatchString(out) {
		t.Errorf("modbus read --json: exit %d, float noise:\n%s", code, out)
	}
}

// TestIntegrationWatchHelpNamesChannels: `watch --help` lists the channels
// of each driver kind the binary links, as the driver registry has them.
func TestIntegrationWatchHelpNamesChannels(t *testing.T) {
	out, _, code := runBinary(t, "watch", "--help")
	if code != 0 {
		t.Fatalf("watch --help: exit %d", code)
	}
	fixed := 0
	for _, kind := range drivers.Kinds() {
		chans := drivers.Channels(kind)
		if len(chans) == 0 {
			if !regexp.MustCompile(`\b` + kind + `\b[^\n]*(\n[^\n]*)?channels named by the device's`).MatchString(out) {
				t.Errorf("watch --help does not say where %s's channels come from:\n%s", kind, out)
			}
			continue
		}
		fixed++
		var names []string
		for _, ch := range chans {
			names = append(names, fmt.Sprintf("%s (%s)", ch.Name, unitName(ch.Unit)))
		}
		if line := kind + " "; !strings.Contains(out, strings.Join(names, ", ")) || !strings.Contains(out, line) {
			t.Errorf("watch --help lacks %s's channels %s:\n%s", kind, strings.Join(names, ", "), out)
		}
	}
	if fixed < 4 || !strings.Contains(out, "scd4x        co2 (ppm), t (°C), rh (%RH)") {
		t.Errorf("watch --help names %d drivers' channels:\n%s", fixed, out)
	}
}
