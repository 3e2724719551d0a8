package gateway_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/internal/poll"
	"github.com/edgegw/edgegw/internal/proctest"
)

// TestIntegrationMissingBus runs the real binary with a configuration that
// puts an SCD41 on an I²C bus and an MCP3008 on an SPI port that do not
// exist, next to working simulated devices (the MCP3008 fails the same way
// as the SCD41, with the SPI hint). The agent runs and delivers the simulated devices'
// readings; the SCD41 fails at each poll (tried again each time) with
// read-error readings the backend receives, and status and health say the
// bus does not exist with the hint `edgegw i2c scan` gives for it.
func TestIntegrationMissingBus(t *testing.T) {
	const bus, port = "/dev/i2c-97", "/dev/spidev9.7"
	for _, p := range []string{bus, port} {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("%s exists here", p)
		}
	}
	b := newBed(t, bedOptions{durability: 200 * time.Millisecond, maxDelay: 300 * time.Millisecond, maxBytes: "64MiB", maxReadings: 100,
		devices: []string{"{name: co2-1, driver: scd4x, interval: 200ms, class: telemetry, options: {bus: " + bus + "}}",
			"{name: adc-1, driver: mcp3008, interval: 200ms, class: telemetry, options: {bus: " + port + "}}"}})
	c := b.subscribe(t)
	health := &inbox{}
	mqttSubscribe(t, mqttConnect(t, b.br, b.br.Backend, "health-reader"), health, "city/gw-001/health")
	bin := proctest.Edgegw(t)

	// The hint the technician command gives for the same bus.
	scan, err := runToExit(t, bin, "i2c", "scan", "--bus", bus)
	if err == nil || !strings.Contains(scan, "raspi-config") {
		t.Fatalf("i2c scan --bus %s: %v, %s", bus, err, scan)
	}
	_, hint, _ := strings.Cut(scan, bus+" ")
	hint, _, _ = strings.Cut(hint, "; ")
	t.Logf("hint: %s", hint)

	p := startBinary(t, bin, "run", "--config", b.cfgPath)
	cl := control.Dial(filepath.Join(b.dir, "control.sock"))
	var st control.Status
	poll.Until(t, 60*time.Second, "the agent polling, co2-1 failing at each poll", func() bool {
		if p.exited() {
			t.Fatalf("agent exited: %v", p.waitErr)
		}
		if st, err = cl.Status(context.Background()); err != nil {
			return false
		}
		ok := len(st.Devices) == len(b.devices)+2 // the two on missing buses
		for _, d := range st.Devices {
			switch d.Name {
			case "co2-1":
				ok = ok && d.Errors >= 3 && d.Polls == d.Errors && strings.Contains(d.LastError, hint)
			case "adc-1":
				ok = ok && d.Errors >= 3 && d.Polls == d.Errors && strings.Contains(d.LastError, "spi bus "+port+" does not exist: enable SPI")
			default:
				ok = ok && d.Polls > 0 && d.Errors == 0
			}
		}
		return ok
	})
	t.Logf("status: %+v", st.Devices)
	poll.Until(t, 60*time.Second, "read-error readings of co2-1 and readings of the others at the backend", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		readErrors := 0
		for _, rs := range c.readings["co2-1"] {
			for _, r := range rs {
				if r.Value == nil && slices.Contains(r.Flags, "read-error") {
					readErrors++
				}
			}
		}
		return readErrors >= 3*3 && len(c.readings["aq-1"]) > 0 && len(c.readings["meter-1"]) > 0
	})
	poll.Until(t, 60*time.Second, "health naming the missing bus", func() bool {
		for _, m := range health.snapshot() {
			var h gateway.Health
			if json.Unmarshal([]byte(m.payload), &h) == nil && h.Devices["co2-1"].Errors > 0 && strings.Contains(h.Devices["co2-1"].LastError, hint) {
				return true
			}
		}
		return false
	})
	p.stop(t)
}
