package mcp3008

import (
	"fmt"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
)

func init() {
	drivers.MustRegister(drivers.Driver{Kind: "mcp3008", Factory: Factory, Bus: drivers.SPIBus})
}

// Factory builds an MCP3008 from its configuration (see the package
// documentation for the options).
func Factory(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	o := option.New(dev.Options)
	opts := &Opts{Common: o.Common(dev, deps, drivers.SPIBus, 0)}
	opts.VRef = o.Number("vref", 3.3)
	opts.Inputs = inputs(o)
	return option.Build(o, deps.SPI, opts.BusName, New, opts)
}

// inputs reads options.channels.
func inputs(o *option.Set) []Input {
	var out []Input
	o.List("channels", "{name, input, zero, span, span_ppb, min, max}", func(c *option.Set) {
		in := Input{Name: c.Str("name", ""), Min: c.Number("min", 0), Max: c.Number("max", 0)}
		v, _ := c.Get("input")
		sel := fmt.Sprint(v)
		if ch, ok := singles[sel]; ok {
			in.Single, in.Ch = true, ch
		} else if ch, ok := pairs[sel]; ok {
			in.Ch = ch
		} else {
			c.Fail("input", "%q is not 0…7 or a pair such as 0-1 or 1-0", sel)
		}
		if in.Name == "" {
			in.Name = "a" + sel
		}
		in.Cal = c.Calibration()
		out = append(out, in)
	})
	return out
}

var singles = map[string]int{"0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7}
var pairs = map[string]int{"0-1": 0, "1-0": 1, "2-3": 2, "3-2": 3, "4-5": 4, "5-4": 5, "6-7": 6, "7-6": 7}
