package ads1115

import (
	"fmt"
	"github.com/edgegw/edgegw/drivers/option"

	"github.com/edgegw/edgegw/drivers"
)

func init() { drivers.MustRegister("ads1115", Factory) }

// Factory builds an ADS1115 from its configuration (see the package
// documentation for the options).
func Factory(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	o := option.New(dev.Options)
	bus := o.Str("bus", "")
	if bus == "" {
		o.Fail("bus", "required (e.g. /dev/i2c-1)")
	}
	opts := &Opts{
		Addr:       uint16(o.Int("addr", 0x48, 0x48, 0x4B)),
		Rate:       int(o.Int("rate", 128, 8, 860)),
		Device:     dev.Name,
		BusName:    bus,
		StuckAfter: int(o.Int("stuck_after", 0, 0, 1_000_000)),
		Warmup:     o.Duration("warmup", 0),
		Now:        deps.Now,
		Logger:     deps.Logger,
	}
	opts.Inputs = inputs(o)
	if err := o.Err(); err != nil {
		return nil, err
	}
	if deps.Buses == nil {
		return nil, fmt.Errorf("options.bus: no buses available")
	}
	b, err := deps.Buses.I2C(bus)
	if err != nil {
		return nil, fmt.Errorf("options.bus: %w", err)
	}
	return New(b, opts)
}

// inputs reads options.channels.
func inputs(o *option.Set) []Input {
	v, ok := o.Get("channels")
	if !ok {
		return nil
	}
	list, isList := v.([]any)
	if !isList || len(list) == 0 {
		o.Fail("channels", "want a list of {name, input, fsr, zero, span, span_ppb, min, max}")
		return nil
	}
	var out []Input
	for i, e := range list {
		m, isMap := e.(map[string]any)
		if !isMap {
			o.Fail(fmt.Sprintf("channels[%d]", i), "want a mapping")
			continue
		}
		c := option.New(m)
		in := Input{Name: c.Str("name", ""), Mux: c.Str("input", ""), FS: c.Number("fsr", 4.096), Min: c.Number("min", 0), Max: c.Number("max", 0)}
		if in.Name == "" {
			in.Name = in.Mux
		}
		if _, ok := muxCodes[in.Mux]; !ok {
			c.Fail("input", "%q is not a0…a3, a0-a1, a0-a3, a1-a3 or a2-a3", in.Mux)
		}
		if _, ok := fsCodes[in.FS]; !ok {
			c.Fail("fsr", "%g is not 6.144, 4.096, 2.048, 1.024, 0.512 or 0.256", in.FS)
		}
		in.Cal = c.Calibration()
		if err := c.Err(); err != nil {
			o.Fail(fmt.Sprintf("channels[%d]", i), "%v", err)
		}
		out = append(out, in)
	}
	return out
}
