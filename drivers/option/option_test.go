package option

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers/reading"
)

func TestSet(t *testing.T) {
	o := New(map[string]any{"addr": "0x77", "bus": "sim:i2c-1", "warmup": "30s", "low_power": true, "zero": 0.3, "span": 0.3, "span_ppb": 100, "colour": "red", "mode": "fast"})
	if got := o.Int("addr", 0x76, 0x08, 0x77); got != 0x77 {
		t.Errorf("addr = %#x", got)
	}
	if got := o.Str("bus", ""); got != "sim:i2c-1" {
		t.Errorf("bus = %q", got)
	}
	if got := o.Duration("warmup", 0); got != 30*time.Second {
		t.Errorf("warmup = %v", got)
	}
	if !o.Bool("low_power", false) || o.Number("missing", 1.5) != 1.5 {
		t.Error("bool or default number wrong")
	}
	if cal := o.Calibration(); cal == nil || cal.SpanPPB != 100 {
		t.Errorf("calibration = %+v", cal)
	}
	o.OneOf("mode", "slow", "slow", "normal")
	err := o.Err()
	for _, want := range []string{
		"options.span: calibration needs span ≠ zero",
		`options.mode: "fast" is not one of slow, normal`,
		"options.colour: unknown option (want addr, bus,",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Err() = %v, want it to contain %q", err, want)
		}
	}
}

func TestIntBoundsNameAddressesInHex(t *testing.T) {
	o := New(map[string]any{"addr": 0x90, "retries": "x"})
	o.Int("addr", 0x76, 0x08, 0x77)
	o.Int("retries", 1, 0, 5)
	err := o.Err()
	if err == nil || !strings.Contains(err.Error(), "options.addr: 0x90 outside 0x08–0x77") || !strings.Contains(err.Error(), "options.retries: x is not an integer") {
		t.Errorf("Err() = %v", err)
	}
	if New(nil).Calibration() != nil {
		t.Error("calibration without zero")
	}
}

// TestBadValuesKeepTheDefault: a value of the wrong type is an error
// naming the option and the value, and the getter returns its default.
func TestBadValuesKeepTheDefault(t *testing.T) {
	o := New(map[string]any{"name": 3, "low_power": "yes", "warmup": "-5s", "vref": "high", "rate": 2000})
	if o.Str("name", "a0") != "a0" || !o.Bool("low_power", true) || o.Duration("warmup", time.Minute) != time.Minute ||
		o.Number("vref", 3.3) != 3.3 || o.Int("rate", 128, 8, 860) != 128 {
		t.Error("a bad value did not give the default")
	}
	err := o.Err()
	for _, want := range []string{
		"options.name: 3 is not a non-empty string",
		"options.low_power: yes is not true or false",
		"options.warmup: -5s is not a duration such as 30s",
		"options.vref: high is not a number",
		"options.rate: 2000 outside 8–860",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Err() = %v, want it to contain %q", err, want)
		}
	}
}

func TestListNamesItemFields(t *testing.T) {
	o := New(map[string]any{"channels": []any{
		map[string]any{"name": "no2", "input": "a0"},
		map[string]any{"name": "o3", "colour": "red"},
		"a2",
	}})
	var names []string
	o.List("channels", "{name, input}", func(c *Set) {
		names = append(names, c.Str("name", ""))
		c.Str("input", "")
	})
	err := o.Err()
	if strings.Join(names, ",") != "no2,o3" {
		t.Errorf("items read: %v", names)
	}
	for _, want := range []string{"options.channels[1].colour: unknown option (want input, name)", "options.channels[2]: want a mapping {name, input}"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Err() = %v, want it to contain %q", err, want)
		}
	}
}

func TestWarmup(t *testing.T) {
	if w := New(map[string]any{"warmup": "0s"}).Warmup(30 * time.Second); w != -1 {
		t.Errorf("explicit 0 = %v, want -1 (none)", w)
	}
	if w := New(nil).Warmup(30 * time.Second); w != 30*time.Second {
		t.Errorf("absent = %v, want the default", w)
	}
	if w := New(map[string]any{"warmup": "10s"}).Warmup(30 * time.Second); w != 10*time.Second {
		t.Errorf("10s = %v", w)
	}
}

// device is a drivers.Sensor on a named bus, for TestBuild.
type device struct{ bus, opts string }

func (d *device) String() string                                  { return d.bus }
func (d *device) Read(context.Context) ([]reading.Reading, error) { return nil, nil }
func (d *device) Halt() error                                     { return nil }

// TestBuild: a factory's bad options are reported before any bus is
// opened; good ones open the named bus and build the device on it; a bus
// that cannot be opened is the factory's error.
func TestBuild(t *testing.T) {
	var opened []string
	open := func(name string) (string, error) {
		opened = append(opened, name)
		if name == "missing" {
			return "", errors.New("options.bus: no such bus")
		}
		return name, nil
	}
	newDev := func(bus, opts string) (*device, error) { return &device{bus: bus, opts: opts}, nil }

	bad := New(map[string]any{"colour": "red"})
	if _, err := Build(bad, open, "i2c-1", newDev, "o"); err == nil || !strings.Contains(err.Error(), "options.colour: unknown option") || len(opened) != 0 {
		t.Errorf("bad options: %v, opened %v; want the option's error and no bus opened", err, opened)
	}
	s, err := Build(New(nil), open, "i2c-1", newDev, "o")
	if d, ok := s.(*device); err != nil || !ok || d.bus != "i2c-1" || d.opts != "o" {
		t.Errorf("Build = %v, %v; want the device on i2c-1 with its options", s, err)
	}
	if _, err := Build(New(nil), open, "missing", newDev, "o"); err == nil || !strings.Contains(err.Error(), "options.bus: no such bus") {
		t.Errorf("missing bus: %v", err)
	}
}
