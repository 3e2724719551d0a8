package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
	"github.com/edgegw/edgegw/drivers/reading"
)

// newI2CCmd builds `edgegw i2c scan`.
func newI2CCmd() *cobra.Command {
	c := &cobra.Command{Use: "i2c", Short: "Technician tools for I²C buses"}
	var bus string
	var sim, asJSON bool
	scan := &cobra.Command{
		Use:   "scan [--bus NAME] [--sim]",
		Short: "List the addresses answering on an I²C bus and guess each chip",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			bus, err := busName(bus, sim, drivers.I2CBus)
			if err != nil {
				return err
			}
			buses := drivers.NewBusSet()
			defer buses.Close()
			b, err := buses.I2C(bus)
			if err != nil {
				return err
			}
			found := drivers.ScanI2C(b)
			if asJSON {
				return printJSON(c.OutOrStdout(), scanResult{Bus: bus, Devices: found})
			}
			w := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ADDR\tCHIP")
			for _, f := range found {
				fmt.Fprintf(w, "0x%02x\t%s\n", f.Addr, f.Chip)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if len(found) == 0 {
				fmt.Fprintf(c.OutOrStdout(), "no device answered on %s: check wiring, power and pull-ups\n", bus)
			}
			return nil
		},
	}
	scan.Flags().StringVar(&bus, "bus", "", "bus name: /dev/i2c-1, I2C1, or sim:i2c-1 (default /dev/i2c-1, or sim:i2c-1 with --sim)")
	simFlag(scan, &sim, "scan the emulated bus sim:i2c-1 (no hardware)")
	scan.Flags().BoolVar(&asJSON, "json", false, `print JSON: {"bus", "devices": [{"addr", "chip"}]}`)
	c.AddCommand(scan)
	return c
}

// scanResult is the output of `i2c scan --json`.
type scanResult struct {
	Bus     string              `json:"bus"`
	Devices []drivers.I2CDevice `json:"devices"` // empty when nothing answered
}

// newSensorCmd builds `edgegw sensor read`.
func newSensorCmd() *cobra.Command {
	c := &cobra.Command{Use: "sensor", Short: "Technician tools for sensors"}
	var kind, bus, addr string
	var opts []string
	var asJSON, sim bool
	var timeout time.Duration
	read := &cobra.Command{
		Use:   "read --driver KIND [--bus NAME] [--addr 0xNN] [--opt key=value]... [--json] [--sim]",
		Short: "Read a sensor once and print its readings",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if kind == "" {
				return usageError{fmt.Errorf("--driver is required (one of %s)", strings.Join(drivers.Kinds(), ", "))}
			}
			if _, err := drivers.Find(kind); err != nil {
				return usageError{fmt.Errorf("--driver %w", err)}
			}
			options, err := option.ParseArgs(opts)
			if err != nil {
				return usageError{fmt.Errorf("--opt %w", err)}
			}
			bus, err := busName(bus, sim, drivers.BusKindOf(kind))
			if err != nil {
				return err
			}
			buses := drivers.NewBusSet()
			defer buses.Close()
			options["bus"] = bus
			if addr != "" {
				options["addr"] = addr
			}
			log := slog.New(slog.NewTextHandler(c.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			ctx, cancel := context.WithTimeout(c.Context(), timeout)
			defer cancel()
			name, rs, err := drivers.ReadOnce(ctx, kind, drivers.Device{Name: kind, Options: options},
				drivers.Deps{Now: time.Now, Logger: log.With("driver", kind, "device", kind), Buses: buses}, 250*time.Millisecond)
			if errors.Is(err, drivers.ErrNoData) {
				return fmt.Errorf("no sample within --timeout %v: %w", timeout, err)
			}
			if err != nil {
				return err
			}
			return printReadings(c.OutOrStdout(), name, rs, asJSON)
		},
	}
	f := read.Flags()
	f.StringVar(&kind, "driver", "", "driver kind: bme280, scd4x, sps30, ads1115, mcp3008, pms5003, …")
	f.StringVar(&bus, "bus", "", "bus: /dev/i2c-1, /dev/spidev0.0, /dev/ttyAMA0, or sim:… (default by driver)")
	f.StringVar(&addr, "addr", "", "I²C address, e.g. 0x76 (default by driver)")
	f.StringArrayVar(&opts, "opt", nil, "driver option key=value, as in the config's options; repeatable")
	f.BoolVar(&asJSON, "json", false, "print JSON, one object per reading")
	simFlag(read, &sim, "read the emulated chip on the driver's sim: bus (no hardware)")
	f.DurationVar(&timeout, "timeout", 15*time.Second, "wait this long for a sample (the SCD4x's first comes after about 6 s)")
	c.AddCommand(read)
	return c
}

// sensorReading is a line of `sensor read --json`.
type sensorReading struct {
	Sensor  string          `json:"sensor"`
	Channel string          `json:"channel"`
	Value   *reading.Number `json:"value"` // null for a read-error reading
	Unit    reading.Unit    `json:"unit"`
	Time    time.Time       `json:"time"`
	Flags   []string        `json:"flags"`
}

func printReadings(w io.Writer, name string, rs []reading.Reading, asJSON bool) error {
	if asJSON {
		for _, r := range rs {
			line := sensorReading{Sensor: name, Channel: r.Channel, Unit: r.Unit, Time: r.Time, Flags: r.Flags.Names()}
			if r.Flags&reading.ReadError == 0 {
				v := reading.Number(r.Value)
				line.Value = &v
			}
			if err := printJSONLine(w, line); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := fmt.Fprintln(w, name); err != nil {
		return err
	}
	return printReadingTable(w, rs, false)
}

// busName is the bus a technician command uses: --bus as given, or the
// default for the driver's kind of bus, an emulated one with --sim.
func busName(bus string, sim bool, kind drivers.BusKind) (string, error) {
	switch {
	case bus == "":
		return kind.DefaultBus(sim), nil
	case sim && !strings.HasPrefix(bus, "sim:"):
		return "", usageError{fmt.Errorf("--sim uses emulated buses and --bus %q is not one (want sim:i2c-N, sim:spiB.C or sim:uart-N)", bus)}
	}
	return bus, nil
}

// simFlag registers --sim on c when the build carries the emulators of
// drivers/sim (the full build; a production build has no --sim).
func simFlag(c *cobra.Command, p *bool, usage string) {
	if drivers.HasBusProvider("sim") {
		c.Flags().BoolVar(p, "sim", false, usage)
	}
}
