// Package option reads a device's `options:` mapping from the configuration
// for the drivers: typed getters with defaults and bounds, one error per bad
// or unknown key, each naming options.<key>, all reported at once.
package option

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edgegw/edgegw/drivers"
)

// Set reads a device's `options:` mapping, collecting one error per bad or
// unknown key, each naming options.<key>.
type Set struct {
	prefix string // "channels[0]." for an item of a list option
	m      map[string]any
	used   map[string]bool
	errs   []error
}

// New returns a Set reading m.
func New(m map[string]any) *Set { return &Set{m: m, used: map[string]bool{}} }

// Fail records an error for key.
func (o *Set) Fail(key string, format string, a ...any) {
	o.errs = append(o.errs, fmt.Errorf("options.%s%s: %s", o.prefix, key, fmt.Sprintf(format, a...)))
}

// Get returns the value of key and whether it is set, marking it used.
func (o *Set) Get(key string) (any, bool) {
	o.used[key] = true
	v, ok := o.m[key]
	return v, ok && v != nil
}

// value returns the value of key converted by conv and true; def and false
// when key is not set, or when conv fails, recording conv's error.
func value[T any](o *Set, key string, def T, conv func(any) (T, error)) (T, bool) {
	v, ok := o.Get(key)
	if !ok {
		return def, false
	}
	t, err := conv(v)
	if err != nil {
		o.Fail(key, "%v", err)
		return def, false
	}
	return t, true
}

// Str returns a string option.
func (o *Set) Str(key, def string) string {
	s, _ := value(o, key, def, func(v any) (string, error) {
		if s, isStr := v.(string); isStr && s != "" {
			return s, nil
		}
		return "", fmt.Errorf("%v is not a non-empty string", v)
	})
	return s
}

// Int returns an integer option within [lo, hi]; strings such as
// "0x76" are accepted.
func (o *Set) Int(key string, def, lo, hi int64) int64 {
	n, ok := value(o, key, def, ToInt)
	if ok && (n < lo || n > hi) {
		o.Fail(key, "%s outside %s–%s", FormatInt(key, n), FormatInt(key, lo), FormatInt(key, hi))
		return def
	}
	return n
}

// FormatInt formats n for messages: addresses in hex, other numbers in decimal.
func FormatInt(key string, n int64) string {
	if key == "addr" {
		return fmt.Sprintf("0x%02x", n)
	}
	return strconv.FormatInt(n, 10)
}

// ToInt accepts the integer forms a YAML decoder or a command line gives.
func ToInt(v any) (int64, error) {
	switch n := v.(type) {
	case int:
		return int64(n), nil
	case int64:
		return n, nil
	case uint64:
		return int64(n), nil
	case float64:
		if n == float64(int64(n)) {
			return int64(n), nil
		}
	case string:
		if i, err := strconv.ParseInt(n, 0, 64); err == nil {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%v is not an integer", v)
}

// Number returns a floating-point option.
func (o *Set) Number(key string, def float64) float64 {
	f, _ := value(o, key, def, ToFloat)
	return f
}

// ToFloat accepts the number forms a YAML decoder or a command line gives.
func ToFloat(v any) (float64, error) {
	switch n := v.(type) {
	case float64:
		return n, nil
	case int, int64, uint64:
		i, _ := ToInt(n)
		return float64(i), nil
	case string:
		if f, err := strconv.ParseFloat(n, 64); err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

// Duration returns a duration option given as "30s" or as seconds.
func (o *Set) Duration(key string, def time.Duration) time.Duration {
	d, _ := value(o, key, def, func(v any) (time.Duration, error) {
		var d time.Duration
		var err error
		if s, isStr := v.(string); isStr {
			d, err = time.ParseDuration(s)
		} else {
			var f float64
			f, err = ToFloat(v)
			d = time.Duration(f * float64(time.Second))
		}
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%v is not a duration such as 30s", v)
		}
		return d, nil
	})
	return d
}

// OneOf returns a string option from a fixed set.
func (o *Set) OneOf(key, def string, set ...string) string {
	s := o.Str(key, def)
	if !slices.Contains(set, s) {
		o.Fail(key, "%q is not one of %s", s, strings.Join(set, ", "))
		return def
	}
	return s
}

// Err reports the collected errors and the unknown keys.
func (o *Set) Err() error { return errors.Join(o.collect()...) }

// collect adds an error per unknown key to the collected errors and returns
// them.
func (o *Set) collect() []error {
	var unknown []string
	for k := range o.m {
		if !o.used[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	known := make([]string, 0, len(o.used))
	for k := range o.used {
		known = append(known, k)
	}
	sort.Strings(known)
	for _, k := range unknown {
		o.Fail(k, "unknown option (want %s)", strings.Join(known, ", "))
	}
	return o.errs
}

// List reads a list of mappings, such as an ADC's channels, calling each
// with a Set for every item; errors name options.<key>[i].<field>. hint
// describes an item for the error when the option is not such a list.
func (o *Set) List(key, hint string, each func(item *Set)) {
	v, ok := o.Get(key)
	if !ok {
		return
	}
	list, isList := v.([]any)
	if !isList || len(list) == 0 {
		o.Fail(key, "want a list of %s", hint)
		return
	}
	for i, e := range list {
		m, isMap := e.(map[string]any)
		if !isMap {
			o.Fail(fmt.Sprintf("%s[%d]", key, i), "want a mapping %s", hint)
			continue
		}
		item := &Set{prefix: fmt.Sprintf("%s%s[%d].", o.prefix, key, i), m: m, used: map[string]bool{}}
		each(item)
		o.errs = append(o.errs, item.collect()...)
	}
}

// Bool returns a true/false option.
func (o *Set) Bool(key string, def bool) bool {
	b, _ := value(o, key, def, func(v any) (bool, error) {
		if b, isBool := v.(bool); isBool {
			return b, nil
		}
		return false, fmt.Errorf("%v is not true or false", v)
	})
	return b
}

// Bus returns the required bus option; kind's default bus is the example
// the error gives when it is missing.
func (o *Set) Bus(kind drivers.BusKind) string {
	bus := o.Str("bus", "")
	if bus == "" {
		o.Fail("bus", "required (e.g. %s)", kind.DefaultBus(false))
	}
	return bus
}

// Common reads the options every driver shares: bus (required; on a bus of
// the given kind), stuck_after and warmup (warmup when absent, see Warmup),
// and takes the device's name, clock and logger from dev and deps.
func (o *Set) Common(dev drivers.Device, deps drivers.Deps, bus drivers.BusKind, warmup time.Duration) drivers.Common {
	return drivers.Common{
		Device:     dev.Name,
		BusName:    o.Bus(bus),
		StuckAfter: o.StuckAfter(),
		Warmup:     o.Warmup(warmup),
		Now:        deps.Now,
		Logger:     deps.Logger,
	}
}

// Build ends a driver's Factory: it reports the errors of o, and only when
// there are none (options are checked before any I/O) opens the bus called
// name with open (deps.I2C, SPI or Serial) and builds the device on it with
// newDev (the driver's New) and opts.
func Build[B, O any, D drivers.Sensor](o *Set, open func(name string) (B, error), name string, newDev func(B, O) (D, error), opts O) (drivers.Sensor, error) {
	if err := o.Err(); err != nil {
		return nil, err
	}
	b, err := open(name)
	if err != nil {
		return nil, err
	}
	return newDev(b, opts)
}

// StuckAfter returns the stuck_after option: identical polls before a value
// is flagged stuck, 0 (the default) to never flag it.
func (o *Set) StuckAfter() int { return int(o.Int("stuck_after", 0, 0, 1_000_000)) }

// Warmup returns the warmup option (readings flagged warming-up after the
// chip starts), def when absent. An explicit 0 is returned as -1, the "none"
// of drivers whose zero Opts.Warmup means their datasheet default.
func (o *Set) Warmup(def time.Duration) time.Duration {
	if w := o.Duration("warmup", def); w != 0 {
		return w
	}
	return -1
}
