package mcp3008

import (
	"context"
	"fmt"

	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
	"github.com/edgegw/edgegw/drivers/reading"
)

// Calibration is the two-point calibration of an input to ppb.
type Calibration = option.Calibration

// Input is one measured input.
type Input struct {
	Name     string       // channel name, e.g. "a0" or "o3"
	Single   bool         // single-ended (true) or differential pair
	Ch       int          // 0–7 single-ended; pair code 0–7 (0: CH0−CH1, 1: CH1−CH0, 2: CH2−CH3, …)
	Cal      *Calibration // optional: readings in ppb instead of volts
	Min, Max float64      // physical range; both 0 = 0…vref (volts) or its calibrated image
}

// Opts configures a Dev. The zero value of each field selects its default;
// Common.Warmup, counted from the first Read, has none.
type Opts struct {
	drivers.Common
	VRef   float64 // reference voltage; default 3.3 V
	Inputs []Input // default ch0…ch7 single-ended named a0…a7
}

// Dev is an MCP3008.
type Dev struct {
	opts Opts
	c    spi.Conn
	name string
	sess drivers.Session // warm-up since the chip first answered
}

var (
	_ drivers.Sensor    = (*Dev)(nil)
	_ drivers.Describer = (*Dev)(nil)
)

// New connects port (mode 0, 1.35 MHz, 8 bits) and returns an MCP3008.
func New(port spi.Port, opts *Opts) (*Dev, error) {
	o := drivers.OptsOf(opts)
	o.Defaults(port.String(), 0)
	name := "mcp3008@" + o.BusName
	if o.VRef == 0 {
		o.VRef = 3.3
	}
	if o.VRef < 0 || o.VRef > 5.5 {
		return nil, fmt.Errorf("%s: vref %g V outside 0–5.5 V", name, o.VRef)
	}
	if len(o.Inputs) == 0 {
		for i := range 8 {
			o.Inputs = append(o.Inputs, Input{Name: fmt.Sprintf("a%d", i), Single: true, Ch: i})
		}
	}
	seen := map[string]bool{}
	for i, in := range o.Inputs {
		if in.Ch < 0 || in.Ch > 7 {
			return nil, fmt.Errorf("%s: input %d: channel %d outside 0–7", name, i, in.Ch)
		}
		if in.Cal != nil && in.Cal.Span == in.Cal.Zero {
			return nil, fmt.Errorf("%s: input %d: calibration span equals zero", name, i)
		}
		if in.Name == "" || seen[in.Name] {
			return nil, fmt.Errorf("%s: input %d: name %q is empty or repeated", name, i, in.Name)
		}
		seen[in.Name] = true
	}
	c, err := port.Connect(1350*physic.KiloHertz, spi.Mode0, 8)
	if err != nil {
		return nil, fmt.Errorf("%s: connect: %w", name, err)
	}
	return &Dev{opts: o, c: c, name: name, sess: drivers.Session{Warmup: o.Warmup}}, nil
}

// String returns the instance name, e.g. "mcp3008@/dev/spidev0.0".
func (d *Dev) String() string { return d.name }

// Channels declares one channel per input.
func (d *Dev) Channels() []reading.Channel {
	out := make([]reading.Channel, len(d.opts.Inputs))
	for i, in := range d.opts.Inputs {
		lo := 0.0
		if !in.Single {
			lo = -d.opts.VRef
		}
		out[i] = in.Cal.Channel(in.Name, lo, d.opts.VRef, in.Min, in.Max, d.opts.StuckAfter)
	}
	return out
}

// Frame returns the 3 bytes that start a conversion.
func Frame(single bool, ch int) [3]byte {
	b := byte(ch&7) << 4
	if single {
		b |= 0x80
	}
	return [3]byte{0x01, b, 0x00}
}

// Decode extracts the 10-bit value from a reply; it fails when the null
// bit is high (MISO floating: no chip).
func Decode(rx [3]byte) (int, error) {
	if rx[1]&0x04 != 0 {
		return 0, fmt.Errorf("null bit high (rx % x): no chip answering", rx[:])
	}
	return int(rx[1]&0x03)<<8 | int(rx[2]), nil
}

// Read converts every input once.
func (d *Dev) Read(ctx context.Context) ([]reading.Reading, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	out := make([]reading.Reading, 0, len(d.opts.Inputs))
	for _, in := range d.opts.Inputs {
		w := Frame(in.Single, in.Ch)
		var r [3]byte
		if err := d.c.Tx(w[:], r[:]); err != nil {
			d.sess.Reset()
			return nil, fmt.Errorf("%s: %s: %w", d, in.Name, err)
		}
		code, err := Decode(r)
		if err != nil {
			d.sess.Reset()
			return nil, fmt.Errorf("%s: %s: %w", d, in.Name, err)
		}
		v := float64(code) * d.opts.VRef / 1024
		unit := reading.Volt
		if in.Cal != nil {
			v, unit = in.Cal.PPB(v), reading.PPB
		}
		out = append(out, reading.Reading{Device: d.opts.Device, Channel: in.Name, Value: v, Unit: unit})
	}
	now := d.opts.Now()
	// The chip has nothing to initialise: its session starts when it first answers.
	if started, _ := d.sess.Start(ctx, now, func(context.Context) error { return nil }); started {
		d.opts.Logger.Info("device answering", "bus", d.opts.BusName)
	}
	return d.sess.Stamp(out, now), nil
}

// Halt does nothing: the MCP3008 is idle between conversions.
func (d *Dev) Halt() error { return nil }
