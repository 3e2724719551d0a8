package gateway

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/gateway/config"
)

// CheckConfig checks cfg as `edgegw run` does before it opens anything: the
// schema, with the driver kinds this binary links, and each device's model
// and options (profiles, bus names) through its driver, without I/O
// (drivers.Check). Every command that calls a configuration valid (config
// validate, config sign, config verify, a pushed or locally applied
// configuration, and run itself) goes through it, so that what one accepts
// the others accept too. Errors are *config.FieldError values, joined, each
// naming its line.
func CheckConfig(cfg *config.Config) error {
	errs := []error{cfg.Validate(knownDriver)}
	for i, dc := range cfg.Devices {
		if !knownDriver(dc.Driver) {
			continue // reported by Validate
		}
		if err := drivers.Check(dc.Driver, driverDevice(dc)); err != nil {
			errs = append(errs, deviceErrors(cfg, i, err)...)
		}
	}
	return errors.Join(errs...)
}

// knownDriver reports whether this binary links a driver kind.
func knownDriver(kind string) bool { _, ok := drivers.Lookup(kind); return ok }

// driverDevice is the part of a device's configuration its driver sees.
func driverDevice(dc config.Device) drivers.Device {
	return drivers.Device{Name: dc.Name, Model: dc.Model, Options: dc.Options}
}

// driverFieldRE matches a driver error about one field of its device:
// "options.addr: …", "options.channels[0].input: …", "model: …".
var driverFieldRE = regexp.MustCompile(`^((?:options\.[a-z0-9_]+(?:\[\d+\](?:\.[a-z0-9_]+)?)?)|model): (.*)$`)

// deviceErrors turns a driver's error about device i into *config.FieldError
// values on the lines of the fields they name.
func deviceErrors(cfg *config.Config, i int, err error) []error {
	var out []error
	for _, e := range flatten(err) {
		msg := e.Error()
		if m := driverFieldRE.FindStringSubmatch(msg); m != nil {
			out = append(out, cfg.DeviceError(i, m[1], nil, m[2]))
			continue
		}
		out = append(out, cfg.DeviceError(i, "", nil, fmt.Sprintf("%s: %s", cfg.Devices[i].Name, strings.TrimSpace(msg))))
	}
	return out
}

// flatten returns the errors joined in err (recursively), or err alone.
func flatten(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}
