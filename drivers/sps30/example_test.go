package sps30_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/edgegw/edgegw/internal/testclock"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/sim/chips"
	"github.com/edgegw/edgegw/drivers/sps30"
)

// An SPS30 on I²C: the first Read resets the sensor and starts its fan, a
// sample follows every second: mass concentrations (ug/m3), number
// concentrations (/cm3) and the typical particle size (um).
func ExampleNew() {
	// On a board: drivers.InitHost(), then bus, err := i2creg.Open("/dev/i2c-1").
	// Here an emulated bus with an SPS30 at 0x69 stands in for the hardware,
	// and a manual clock makes every run print the same readings.
	var clock testclock.Clock
	bus := chips.NewI2CBus("/dev/i2c-1", clock.Now)
	defer bus.Close()

	dev, err := sps30.New(bus, &sps30.Opts{
		// On a board leave Now and Sleep out: they default to the system clock.
		Common: drivers.Common{Device: "pm", Now: clock.Now},
		Sleep:  clock.Sleep,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt() // stops the fan and the laser

	fmt.Println(dev)
	// Poll as the gateway does: the first sample is due 1 s after the
	// start, so the first poll gets drivers.ErrNoData.
	ctx := context.Background()
	for range 2 {
		rs, err := dev.Read(ctx)
		switch {
		case errors.Is(err, drivers.ErrNoData):
			fmt.Println("no sample yet")
		case err != nil:
			log.Fatal(err)
		}
		for _, r := range rs {
			fmt.Printf("%s = %.2f %s\n", r.Channel, r.Value, r.Unit)
		}
		clock.Advance(time.Second) // on a board: wait for the next poll
	}
	// Output:
	// sps30@/dev/i2c-1:0x69
	// no sample yet
	// pm1 = 9.90 ug/m3
	// pm25 = 18.01 ug/m3
	// pm4 = 25.21 ug/m3
	// pm10 = 32.41 ug/m3
	// nc05 = 108.04 /cm3
	// nc1 = 126.04 /cm3
	// nc25 = 133.25 /cm3
	// nc4 = 135.05 /cm3
	// nc10 = 135.95 /cm3
	// tps = 0.60 um
}
