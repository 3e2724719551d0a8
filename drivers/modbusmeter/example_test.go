package modbusmeter_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/edgegw/edgegw/drivers/modbusmeter"
	"github.com/edgegw/edgegw/drivers/sim/meteremu"
)

// An Eastron SDM120 at unit 2 on an RS-485 line at 9600 8N1: open the line,
// build the meter with its profile, poll it once.
func ExampleNew() {
	// On a board the port is the RS-485 adapter, e.g. /dev/ttyUSB0. Here an
	// emulated meter serves a pseudo-terminal that stands in for it, and a
	// fixed clock makes every run print the same values.
	now := func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }
	emu, err := meteremu.Start(meteremu.Config{
		Units: []meteremu.Unit{{ID: 2, Profile: "sdm120"}},
		Baud:  9600, Parity: "N", StopBits: 1, Now: now,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer emu.Close()
	port := emu.Path()

	bus, err := modbusmeter.OpenBus(port, modbusmeter.LineConfig{Baud: 9600, Parity: "N", StopBits: 1, Timeout: 500 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()

	profile, err := modbusmeter.LoadProfile("sdm120") // see `edgegw modbus profiles`
	if err != nil {
		log.Fatal(err)
	}
	meter, err := modbusmeter.New(bus, &modbusmeter.Opts{
		Name:    "household-3",
		Port:    port,
		Unit:    2,
		Profile: profile,
		Now:     now, // on a board leave Now out: it defaults to the system clock
	})
	if err != nil {
		log.Fatal(err)
	}
	defer meter.Halt()

	rs, err := meter.Read(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range rs {
		fmt.Printf("%s %s = %.2f %s\n", r.Device, r.Channel, r.Value, r.Unit)
	}
	// Output:
	// household-3 v = 230.60 V
	// household-3 i = 5.40 A
	// household-3 p = 1250.24 W
	// household-3 s = 1350.24 VA
	// household-3 q = 220.05 var
	// household-3 pf = 0.93 /
	// household-3 f = 50.01 Hz
	// household-3 ei = 1914.58 kWh
	// household-3 ex = 1914.58 kWh
	// household-3 qi = 1915.62 varh
	// household-3 qx = 1915.62 varh
	// household-3 e = 1032.12 kWh
	// household-3 qe = 1915.62 varh
}

// Meters on one RS-485 line share its Bus, which runs one transaction at a
// time; each Meter sets its unit id on every request.
func ExampleOpenBus() {
	// Here an emulated line with an SDM630 at unit 1 and a Selec MFM383A
	// at unit 3 stands in for /dev/ttyUSB0, and a fixed clock makes every
	// run print the same values.
	now := func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }
	emu, err := meteremu.Start(meteremu.Config{
		Units: []meteremu.Unit{{ID: 1, Profile: "sdm630"}, {ID: 3, Profile: "mfm383a"}},
		Now:   now,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer emu.Close()
	port := emu.Path()

	bus, err := modbusmeter.OpenBus(port, modbusmeter.LineConfig{Baud: 9600})
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()

	var meters []*modbusmeter.Meter
	for _, m := range []struct {
		name    string
		unit    uint8
		profile string
	}{{"feeder", 1, "sdm630"}, {"lighting", 3, "mfm383a"}} {
		profile, err := modbusmeter.LoadProfile(m.profile)
		if err != nil {
			log.Fatal(err)
		}
		meter, err := modbusmeter.New(bus, &modbusmeter.Opts{Name: m.name, Port: port, Unit: m.unit, Profile: profile, Now: now})
		if err != nil {
			log.Fatal(err)
		}
		meters = append(meters, meter)
	}

	ctx := context.Background()
	for _, meter := range meters {
		rs, err := meter.Read(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, r := range rs {
			if r.Channel == "f" || r.Channel == "e" {
				fmt.Printf("%s %s = %.2f %s\n", r.Device, r.Channel, r.Value, r.Unit)
			}
		}
	}
	// Output:
	// feeder f = 50.01 Hz
	// feeder e = 1031.97 kWh
	// lighting f = 50.01 Hz
	// lighting e = 1032.08 kWh
}
