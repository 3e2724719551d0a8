package bme280_test

import (
	"context"
	"fmt"
	"log"

	"github.com/edgegw/edgegw/internal/testclock"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/bme280"
	"github.com/edgegw/edgegw/drivers/sim/chips"
)

// A BME280 on I²C: open the bus, build the device, read temperature,
// humidity and pressure.
func ExampleNew() {
	// On a board: drivers.InitHost(), then bus, err := i2creg.Open("/dev/i2c-1").
	// Here an emulated bus with a BME280 at 0x76 stands in for the hardware,
	// and a manual clock makes every run print the same readings.
	var clock testclock.Clock
	bus := chips.NewI2CBus("/dev/i2c-1", clock.Now)
	defer bus.Close()

	dev, err := bme280.New(bus, &bme280.Opts{
		Addr:         0x76,
		Oversampling: 4,
		// On a board leave Now and Sleep out: they default to the system clock.
		Common: drivers.Common{Device: "env", Now: clock.Now},
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
		fmt.Printf("%s %s = %.2f %s\n", r.Device, r.Channel, r.Value, r.Unit)
	}
	// Output:
	// bme280@/dev/i2c-1:0x76
	// env t = 25.08 Cel
	// env rh = 65.58 %RH
	// env p = 100362.92 Pa
}

// A BME280 on SPI: the same device behind a chip select.
func ExampleNewSPI() {
	// On a board: drivers.InitHost(), then port, err := spireg.Open("/dev/spidev0.1").
	// Here an emulated port with a BME280 on it stands in for the hardware.
	var clock testclock.Clock
	port := chips.NewSPIPort("/dev/spidev0.1", clock.Now)
	defer port.Close()

	dev, err := bme280.NewSPI(port, &bme280.Opts{Common: drivers.Common{Device: "env", Now: clock.Now}, Sleep: clock.Sleep})
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
		fmt.Printf("%s = %.2f %s at %s\n", r.Channel, r.Value, r.Unit, r.Time.Format("15:04:05.000"))
	}
	// Output:
	// bme280@/dev/spidev0.1
	// t = 25.08 Cel at 00:00:00.010
	// rh = 65.58 %RH at 00:00:00.010
	// p = 100362.92 Pa at 00:00:00.010
}
