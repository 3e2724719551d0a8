package scd4x_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/edgegw/edgegw/internal/testclock"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/scd4x"
	"github.com/edgegw/edgegw/drivers/sim/chips"
)

// An SCD41 on I²C: the first Read starts periodic measurement, a sample
// follows every 5 s, and readings of the first minute are flagged
// warming-up.
func ExampleNew() {
	// On a board: drivers.InitHost(), then bus, err := i2creg.Open("/dev/i2c-1").
	// Here an emulated bus with an SCD41 at 0x62 stands in for the hardware,
	// and a manual clock makes every run print the same readings.
	var clock testclock.Clock
	bus := chips.NewI2CBus("/dev/i2c-1", clock.Now)
	defer bus.Close()

	dev, err := scd4x.New(bus, &scd4x.Opts{
		// On a board leave Now and Sleep out: they default to the system clock.
		Common: drivers.Common{Device: "co2", Now: clock.Now},
		Sleep:  clock.Sleep,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt() // stops periodic measurement

	fmt.Println(dev)
	// Poll as the gateway does: the first sample is due 5 s after the
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
			warming := r.Flags&reading.WarmingUp != 0
			fmt.Printf("%s = %.1f %s (warming up: %t)\n", r.Channel, r.Value, r.Unit, warming)
		}
		clock.Advance(5 * time.Second) // on a board: wait for the next poll
	}
	// Output:
	// scd4x@/dev/i2c-1:0x62
	// no sample yet
	// co2 = 520.0 ppm (warming up: true)
	// t = 23.5 Cel (warming up: true)
	// rh = 64.1 %RH (warming up: true)
}
