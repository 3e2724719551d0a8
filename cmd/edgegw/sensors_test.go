package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// executeSensors runs args on a root that holds the technician commands of
// sensors.go.
func executeSensors(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRoot()
	addMissing(root, newI2CCmd(), newSensorCmd())
	return executeOn(root, args...)
}

func TestSensorCommands(t *testing.T) {
	tests := []commandCase{
		{"scan sim", []string{"i2c", "scan", "--sim"}, 0, []string{"0x76  BME280 (chip id 0x60)", "0x62  SCD4x", "0x69  SPS30", "0x48  ADS1x15 ADC (config 0x8583)"}},
		{"scan absent bus names the group", []string{"i2c", "scan", "--bus", "/dev/i2c-9"}, 1, []string{"i2c bus /dev/i2c-9 does not exist", "group i2c"}},
		{"read bme280 sim", []string{"sensor", "read", "--driver", "bme280", "--sim"}, 0, []string{"bme280@sim:i2c-1:0x76", "t ", " °C ", "rh ", " %RH ", "p ", " hPa "}},
		{"read bme280 absent bus", []string{"sensor", "read", "--driver", "bme280", "--bus", "/dev/i2c-1", "--addr", "0x76"}, 1, []string{"/dev/i2c-1 does not exist", "usermod -aG i2c"}},
		{"read spi absent bus", []string{"sensor", "read", "--driver", "mcp3008", "--bus", "/dev/spidev0.0"}, 1, []string{"spi bus /dev/spidev0.0 does not exist", "group spi"}},
		{"read ads1115 sim", []string{"sensor", "read", "--driver", "ads1115", "--sim", "--addr", "0x48"}, 0, []string{"a0", "V"}},
		{"read mcp3008 sim", []string{"sensor", "read", "--driver", "mcp3008", "--sim", "--opt", "vref=3.3"}, 0, []string{"mcp3008@sim:spi0.0", "a7"}},
		{"read pms5003 sim", []string{"sensor", "read", "--driver", "pms5003", "--sim"}, 0, []string{"pm25", ".0 µg/m³  warming-up"}},
		{"bad option", []string{"sensor", "read", "--driver", "bme280", "--sim", "--opt", "colour=red"}, 1, []string{"options.colour: unknown option"}},
		{"bad address", []string{"sensor", "read", "--driver", "bme280", "--sim", "--addr", "0x90"}, 1, []string{"options.addr: 0x90 outside 0x76–0x77"}},
		{"no driver", []string{"sensor", "read"}, 2, []string{"--driver is required"}},
		{"unknown driver", []string{"sensor", "read", "--driver", "bme999"}, 2, []string{`--driver "bme999" is not a known driver (have `}},
		{"bad opt syntax", []string{"sensor", "read", "--driver", "bme280", "--opt", "x"}, 2, []string{`--opt "x" is not key=value`}},
	}
	runCommands(t, executeSensors, tests)
}

func TestSensorReadJSON(t *testing.T) {
	out, code := executeSensors(t, "sensor", "read", "--driver", "bme280", "--sim", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), out)
	}
	var r struct {
		Sensor, Channel, Unit string
		Value                 float64
		Flags                 []string
	}
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil || r.Channel != "t" || r.Unit != "Cel" || r.Value < 15 || r.Value > 35 || r.Flags[0] != "ok" {
		t.Errorf("first line %q → %+v, %v", lines[0], r, err)
	}
}

// TestIntegrationSensorReadWaitsForFirstSample: `edgegw sensor read` of the
// emulated SCD41 and SPS30 waits for the chip's first sample within
// --timeout (the SCD41's comes 5 s after its measurement starts) instead
// of failing at once; a --timeout too short for it says so.
func TestIntegrationSensorReadWaitsForFirstSample(t *testing.T) {
	for _, tt := range []struct {
		driver string
		want   []string
	}{
		{"scd4x", []string{"scd4x@sim:i2c-1:0x62", "co2", "ppm", "rh"}},
		{"sps30", []string{"sps30@sim:i2c-1:0x69", "pm25", " µg/m³", "nc10"}},
	} {
		stdout, stderr, code := runBinary(t, "sensor", "read", "--driver", tt.driver, "--sim", "--timeout", "15s")
		if code != 0 {
			t.Errorf("sensor read --driver %s: exit %d: %s", tt.driver, code, stderr)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("sensor read --driver %s: output lacks %q:\n%s", tt.driver, w, stdout)
			}
		}
	}
	_, stderr, code := runBinary(t, "sensor", "read", "--driver", "scd4x", "--sim", "--timeout", "1s")
	if code != 1 || !strings.Contains(stderr, "no sample within --timeout 1s") || !strings.Contains(stderr, "first sample due 5s after start") {
		t.Errorf("sensor read --driver scd4x --timeout 1s: exit %d, %q; want the timeout and the reason", code, stderr)
	}
}
