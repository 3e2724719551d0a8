package mcp3008_test

import (
	"context"
	"fmt"
	"log"

	"github.com/edgegw/edgegw/internal/testclock"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/mcp3008"
	"github.com/edgegw/edgegw/drivers/sim/chips"
)

// An MCP3008 on SPI with a 3.3 V reference: a plain voltage on CH0 and an
// ozone sensor on CH2, calibrated to ppb.
func ExampleNew() {
	// On a board: drivers.InitHost(), then port, err := spireg.Open("/dev/spidev0.0").
	// Here an emulated port with an MCP3008 on it stands in for the hardware,
	// and a manual clock makes every run print the same readings.
	var clock testclock.Clock
	port := chips.NewSPIPort("/dev/spidev0.0", clock.Now)
	defer port.Close()

	dev, err := mcp3008.New(port, &mcp3008.Opts{
		VRef: 3.3,
		Inputs: []mcp3008.Input{
			{Name: "a0", Single: true, Ch: 0},
			// 1.00 V in zero air, 2.00 V in 500 ppb span gas (calibration sheet).
			{Name: "o3", Single: true, Ch: 2, Cal: &mcp3008.Calibration{Zero: 1.00, Span: 2.00, SpanPPB: 500}},
		},
		// On a board leave Now out: it defaults to the system clock.
		Common: drivers.Common{Device: "adc", Now: clock.Now},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt()

	rs, err := dev.Read(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(dev)
	for _, r := range rs {
		fmt.Printf("%s = %.2f %s\n", r.Channel, r.Value, r.Unit)
	}
	// Output:
	// mcp3008@/dev/spidev0.0
	// a0 = 0.33 V
	// o3 = 70.41 ppb
}
