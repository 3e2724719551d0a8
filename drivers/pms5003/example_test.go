package pms5003_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/edgegw/edgegw/internal/testclock"

	"github.com/goburrow/serial"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/pms5003"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/sim/chips"
)

// A PMS5003 on a UART at 9600 8N1: the driver puts it in passive mode and
// asks for a frame at each Read; readings of the first 30 s are flagged
// warming-up.
func ExampleNew() {
	// On a board the port is the UART the sensor is wired to, e.g.
	// /dev/ttyAMA0. Here an emulated PMS5003 serves a pseudo-terminal that
	// stands in for it, and a manual clock makes every run print the same
	// readings.
	var clock testclock.Clock
	path, _, sensor, err := chips.StartPMS5003(clock.Now)
	if err != nil {
		log.Fatal(err)
	}
	defer sensor.Close()

	// Port opens the serial port at the first Read and reopens it after an
	// error; Timeout bounds the wait for a frame.
	port := &pms5003.Port{Config: serial.Config{
		Address: path, BaudRate: 9600, DataBits: 8, StopBits: 1, Parity: "N",
		Timeout: 2 * time.Second,
	}}
	dev, err := pms5003.New(port, &pms5003.Opts{
		// On a board leave Now out: it defaults to the system clock.
		Common: drivers.Common{Device: "pm", BusName: path, Now: clock.Now},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt() // puts the sensor to sleep and closes the port

	rs, err := dev.Read(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range rs {
		fmt.Printf("%s = %.0f %s (warming up: %t)\n", r.Channel, r.Value, r.Unit, r.Flags&reading.WarmingUp != 0)
	}
	// Output:
	// pm1 = 13 ug/m3 (warming up: true)
	// pm25 = 22 ug/m3 (warming up: true)
	// pm10 = 38 ug/m3 (warming up: true)
}
