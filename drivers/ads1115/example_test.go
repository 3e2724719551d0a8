package ads1115_test

import (
	"context"
	"fmt"
	"log"

	"github.com/edgegw/edgegw/internal/testclock"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/ads1115"
	"github.com/edgegw/edgegw/drivers/sim/chips"
)

// An ADS1115 reading an electrochemical NO2 sensor: the working electrode
// against the auxiliary electrode (a0-a1), calibrated to ppb, and a plain
// voltage on a2.
func ExampleNew() {
	// On a board: drivers.InitHost(), then bus, err := i2creg.Open("/dev/i2c-1").
	// Here an emulated bus with an ADS1115 at 0x48 stands in for the hardware,
	// and a manual clock makes every run print the same readings.
	var clock testclock.Clock
	bus := chips.NewI2CBus("/dev/i2c-1", clock.Now)
	defer bus.Close()

	dev, err := ads1115.New(bus, &ads1115.Opts{
		Addr: 0x48,
		Inputs: []ads1115.Input{
			// 0 V in zero air, 0.03 V in 100 ppb span gas (calibration sheet).
			{Name: "no2", Mux: "a0-a1", FS: 0.256, Cal: &ads1115.Calibration{Zero: 0, Span: 0.03, SpanPPB: 100}},
			{Name: "a2", Mux: "a2", FS: 4.096},
		},
		// On a board leave Now and Sleep out: they default to the system clock.
		Common: drivers.Common{Device: "gas", Now: clock.Now},
		Sleep:  clock.Sleep,
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
		fmt.Printf("%s = %.3f %s\n", r.Channel, r.Value, r.Unit)
	}
	// Output:
	// ads1115@/dev/i2c-1:0x48
	// no2 = 41.667 ppb
	// a2 = 1.453 V
}
