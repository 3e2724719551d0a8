package ads1115

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
	"github.com/edgegw/edgegw/drivers/reading"
)

// Calibration is the two-point calibration of an input to ppb.
type Calibration = option.Calibration

// Input is one measured input.
type Input struct {
	Name     string       // channel name, e.g. "a0" or "no2"
	Mux      string       // a0…a3 (vs GND), a0-a1, a0-a3, a1-a3, a2-a3
	FS       float64      // full-scale volts: 6.144, 4.096, 2.048, 1.024, 0.512 or 0.256
	Cal      *Calibration // optional: readings in ppb instead of volts
	Min, Max float64      // physical range; both 0 = ±FS (volts) or the calibrated image of ±FS
}

var muxCodes = map[string]uint16{"a0-a1": 0, "a0-a3": 1, "a1-a3": 2, "a2-a3": 3, "a0": 4, "a1": 5, "a2": 6, "a3": 7}
var fsCodes = map[float64]uint16{6.144: 0, 4.096: 1, 2.048: 2, 1.024: 3, 0.512: 4, 0.256: 5}
var rateCodes = map[int]uint16{8: 0, 16: 1, 32: 2, 64: 3, 128: 4, 250: 5, 475: 6, 860: 7}

// Opts configures a Dev. The zero value of each field selects its default;
// Common.Warmup's is none.
type Opts struct {
	drivers.Common
	Addr         uint16                                           // 0x48 (default) … 0x4B
	Inputs       []Input                                          // default a0…a3 at ±4.096 V
	Rate         int                                              // samples per second; default 128
	ReadyTimeout time.Duration                                    // bound on OS polling after 1/rate; default 10 ms + 1/rate
	Sleep        func(ctx context.Context, d time.Duration) error // waits; default a timer honouring ctx
}

// Dev is an ADS1115.
type Dev struct {
	opts Opts
	dev  i2c.Dev
	name string
	rate uint16
	sess drivers.Session // initialisation and warm-up
}

var (
	_ drivers.Sensor    = (*Dev)(nil)
	_ drivers.Describer = (*Dev)(nil)
)

// New returns an ADS1115 on bus after checking opts. It does no I/O.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	o := drivers.OptsOf(opts)
	if o.Addr == 0 {
		o.Addr = 0x48
	}
	o.Defaults(bus.String(), 0)
	name := fmt.Sprintf("ads1115@%s:0x%02x", o.BusName, o.Addr)
	if o.Addr < 0x48 || o.Addr > 0x4B {
		return nil, fmt.Errorf("%s: address outside 0x48–0x4b", name)
	}
	if o.Rate == 0 {
		o.Rate = 128
	}
	rate, ok := rateCodes[o.Rate]
	if !ok {
		return nil, fmt.Errorf("%s: rate %d is not 8, 16, 32, 64, 128, 250, 475 or 860", name, o.Rate)
	}
	if len(o.Inputs) == 0 {
		o.Inputs = []Input{{Name: "a0", Mux: "a0", FS: 4.096}, {Name: "a1", Mux: "a1", FS: 4.096}, {Name: "a2", Mux: "a2", FS: 4.096}, {Name: "a3", Mux: "a3", FS: 4.096}}
	}
	seen := map[string]bool{}
	for i, in := range o.Inputs {
		if _, ok := muxCodes[in.Mux]; !ok {
			return nil, fmt.Errorf("%s: input %d: %q is not a0…a3, a0-a1, a0-a3, a1-a3 or a2-a3", name, i, in.Mux)
		}
		if _, ok := fsCodes[in.FS]; !ok {
			return nil, fmt.Errorf("%s: input %d: full scale %g V is not 6.144, 4.096, 2.048, 1.024, 0.512 or 0.256", name, i, in.FS)
		}
		if in.Cal != nil && in.Cal.Span == in.Cal.Zero {
			return nil, fmt.Errorf("%s: input %d: calibration span equals zero", name, i)
		}
		if in.Name == "" || seen[in.Name] {
			return nil, fmt.Errorf("%s: input %d: name %q is empty or repeated", name, i, in.Name)
		}
		seen[in.Name] = true
	}
	if o.Sleep == nil {
		o.Sleep = drivers.Sleep
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 10*time.Millisecond + time.Second/time.Duration(o.Rate)
	}
	return &Dev{opts: o, dev: i2c.Dev{Bus: bus, Addr: o.Addr}, name: name, rate: rate, sess: drivers.Session{Warmup: o.Warmup}}, nil
}

// String returns the instance name, e.g. "ads1115@/dev/i2c-1:0x48".
func (d *Dev) String() string { return d.name }

// Channels declares one channel per input: volts within ±FS, or ppb within
// the calibrated image of ±FS, unless Min/Max are given.
func (d *Dev) Channels() []reading.Channel {
	out := make([]reading.Channel, len(d.opts.Inputs))
	for i, in := range d.opts.Inputs {
		out[i] = in.Cal.Channel(in.Name, -in.FS, in.FS, in.Min, in.Max, d.opts.StuckAfter)
	}
	return out
}

// Config returns the config register word that starts a single-shot
// conversion of mux at full scale fs and the given rate code.
func Config(mux string, fs float64, rate uint16) uint16 {
	return 0x8000 | muxCodes[mux]<<12 | fsCodes[fs]<<9 | 0x0100 | rate<<5 | 0x0003
}

// Volts converts a conversion register value at full scale fs.
func Volts(raw int16, fs float64) float64 { return float64(raw) * fs / 32768 }

// convert runs one single-shot conversion and returns the raw value.
func (d *Dev) convert(ctx context.Context, in Input) (int16, error) {
	cfg := Config(in.Mux, in.FS, d.rate)
	if err := d.dev.Tx([]byte{regConfig, byte(cfg >> 8), byte(cfg)}, nil); err != nil {
		return 0, fmt.Errorf("%s: start conversion: %w", in.Name, err)
	}
	conv := time.Second / time.Duration(d.opts.Rate)
	if err := d.opts.Sleep(ctx, conv+conv/10); err != nil {
		return 0, err
	}
	deadline := d.opts.Now().Add(d.opts.ReadyTimeout)
	var b [2]byte
	for {
		if err := d.dev.Tx([]byte{regConfig}, b[:]); err != nil {
			return 0, fmt.Errorf("%s: read config: %w", in.Name, err)
		}
		if b[0]&0x80 != 0 {
			break
		}
		if !d.opts.Now().Before(deadline) {
			return 0, fmt.Errorf("%s: conversion not done within %s", in.Name, d.opts.ReadyTimeout)
		}
		if err := d.opts.Sleep(ctx, time.Millisecond); err != nil {
			return 0, err
		}
	}
	if err := d.dev.Tx([]byte{0x00}, b[:]); err != nil {
		return 0, fmt.Errorf("%s: read conversion: %w", in.Name, err)
	}
	return Conversion(b), nil
}

// Conversion decodes the conversion register as read: 16-bit two's
// complement, most significant byte first.
func Conversion(b [2]byte) int16 { return int16(uint16(b[0])<<8 | uint16(b[1])) }

// init checks the chip answers: the config register resets to 0x8583 and its
// low bits (comparator disabled) are what any driver leaves.
func (d *Dev) init(context.Context) error {
	var b [2]byte
	if err := d.dev.Tx([]byte{0x01}, b[:]); err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	return nil
}

// Read converts every input once.
func (d *Dev) Read(ctx context.Context) ([]reading.Reading, error) {
	return d.sess.Poll(ctx, d, d.opts.Now, d.init, func() {
		d.opts.Logger.Info("device initialised", "bus", d.opts.BusName, "addr", fmt.Sprintf("0x%02x", d.opts.Addr))
	}, d.read)
}

// read converts every input once.
func (d *Dev) read(ctx context.Context) ([]reading.Reading, error) {
	out := make([]reading.Reading, 0, len(d.opts.Inputs))
	for _, in := range d.opts.Inputs {
		raw, err := d.convert(ctx, in)
		if err != nil {
			return nil, err
		}
		v, unit := Volts(raw, in.FS), reading.Volt
		if in.Cal != nil {
			v, unit = in.Cal.PPB(v), reading.PPB
		}
		out = append(out, reading.Reading{Device: d.opts.Device, Channel: in.Name, Value: v, Unit: unit})
	}
	return d.sess.Stamp(out, d.opts.Now()), nil
}

// Halt does nothing: in single-shot mode the chip powers down after each
// conversion.
func (d *Dev) Halt() error { return nil }
