package bme280

import (
	"strings"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
)

func init() {
	drivers.MustRegister("bme280", Factory)
	drivers.MustRegisterChannels("bme280", channels)
}

// Factory builds a BME280 from its configuration (see the package
// documentation for the options). The bus is SPI when its name contains
// "spi".
func Factory(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	o := option.New(dev.Options)
	bus := o.Bus("/dev/i2c-1")
	addr := o.Int("addr", 0x76, 0x76, 0x77)
	opts := &Opts{
		Addr:         uint16(addr),
		Device:       dev.Name,
		BusName:      bus,
		Oversampling: int(o.Int("oversampling", 1, 1, 16)),
		StuckAfter:   o.StuckAfter(),
		Warmup:       o.Duration("warmup", 0),
		Now:          deps.Now,
		Logger:       deps.Logger,
	}
	if err := o.Err(); err != nil {
		return nil, err
	}
	if strings.Contains(strings.ToLower(bus), "spi") {
		port, err := deps.SPI(bus)
		if err != nil {
			return nil, err
		}
		return NewSPI(port, opts)
	}
	b, err := deps.I2C(bus)
	if err != nil {
		return nil, err
	}
	return New(b, opts)
}
