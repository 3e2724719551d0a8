package ads1115

import (
	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
)

func init() {
	drivers.MustRegister(drivers.Driver{Kind: "ads1115", Factory: Factory, Identify: identify, Addrs: Addrs})
}

// Factory builds an ADS1115 from its configuration (see the package
// documentation for the options).
func Factory(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	o := option.New(dev.Options)
	opts := &Opts{Common: o.Common(dev, deps, drivers.I2CBus, 0)}
	opts.Addr = uint16(o.Int("addr", 0x48, 0x48, 0x4B))
	opts.Rate = int(o.Int("rate", 128, 8, 860))
	opts.Inputs = inputs(o)
	return option.Build(o, deps.I2C, opts.BusName, New, opts)
}

// inputs reads options.channels.
func inputs(o *option.Set) []Input {
	var out []Input
	o.List("channels", "{name, input, fsr, zero, span, span_ppb, min, max}", func(c *option.Set) {
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
		out = append(out, in)
	})
	return out
}
