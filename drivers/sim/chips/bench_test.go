package chips_test

import (
	"context"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/ads1115"
	"github.com/edgegw/edgegw/drivers/bme280"
	"github.com/edgegw/edgegw/drivers/mcp3008"
	"github.com/edgegw/edgegw/drivers/pms5003"
	"github.com/edgegw/edgegw/drivers/scd4x"
	"github.com/edgegw/edgegw/drivers/sim/chips"
	"github.com/edgegw/edgegw/drivers/sps30"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/testclock"
)

// BenchmarkPollAll measures the CPU cost of one poll of all six sensors
// against the emulators (fake clock: no waiting; PMS5003 over a real
// pseudo-terminal, so its cost includes the kernel round trip).
func BenchmarkPollAll(b *testing.B) {
	clk := &testclock.Clock{}
	bus := chips.NewI2CBus("sim:i2c-1", clk.Now)
	port := chips.NewSPIPort("sim:spi0.0", clk.Now)
	path, _, closer, err := chips.StartPMS5003(clk.Now)
	if err != nil {
		b.Skip(err)
	}
	defer closer.Close()
	set := drivers.NewBusSet()
	defer set.Close()
	pm, err := pms5003.Factory(drivers.Device{Name: "pm", Options: map[string]any{"bus": path}}, drivers.Deps{Now: clk.Now, Buses: set})
	must.NoError(b, err)
	bme, _ := bme280.New(bus, &bme280.Opts{Common: drivers.Common{Now: clk.Now}, Sleep: clk.Sleep})
	co2, _ := scd4x.New(bus, &scd4x.Opts{Common: drivers.Common{Now: clk.Now}, Sleep: clk.Sleep})
	sps, _ := sps30.New(bus, &sps30.Opts{Common: drivers.Common{Now: clk.Now}, Sleep: clk.Sleep})
	ads, _ := ads1115.New(bus, &ads1115.Opts{Common: drivers.Common{Now: clk.Now}, Sleep: clk.Sleep})
	mcp, _ := mcp3008.New(port, &mcp3008.Opts{Common: drivers.Common{Now: clk.Now}})
	all := []drivers.Sensor{bme, co2, sps, ads, mcp, pm}
	defer pm.Halt() // closes the serial port before the emulator stops
	ctx := context.Background()
	poll := func() {
		clk.Advance(10 * time.Second)
		for _, s := range all {
			if _, err := s.Read(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	poll() // initialise every chip
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		poll()
	}
}
