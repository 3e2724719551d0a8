// Package reading is the model of what devices produce: a reading (device,
// channel, value, unit, time, quality flags) and the channel descriptions that
// validate it. It depends on the standard library only, so the envelope format
// and the backend use it without linking any bus or driver code.
package reading

import (
	"strings"
	"time"
)

// Unit is a SenML unit symbol (RFC 8428 section 12.1 and its registry), such as
// "Cel", "%RH", "Pa", "ppm", "ug/m3", "V", "A", "W", "kWh" or "Hz".
type Unit string

// Units used by edgegw's drivers.
const (
	Celsius    Unit = "Cel"
	RelHumid   Unit = "%RH"
	Pascal     Unit = "Pa"
	PPM        Unit = "ppm"
	PPB        Unit = "ppb"
	MicrogramM Unit = "ug/m3"
	Volt       Unit = "V"
	Ampere     Unit = "A"
	Watt       Unit = "W"
	KWh        Unit = "kWh"
	Hertz      Unit = "Hz"
)

// Flags is the set of quality flags of a reading. The zero value means ok.
type Flags uint16

// Quality flags. Their bit values are part of the envelope contract
// (docs/envelope.md) and never change meaning.
const (
	OutOfRange      Flags = 1 << iota // value outside the channel's physical range
	Stuck                             // value frozen for several polls
	CounterWentBack                   // a monotonic counter decreased
	ClockUnsynced                     // the gateway clock was not synchronised
	ReadError                         // the device could not be read; Value is meaningless
	Humid                             // particulate matter read at a relative humidity where optical sensors over-read
	WarmingUp                         // read during the sensor's datasheet warm-up period
)

var flagNames = []struct {
	f    Flags
	name string
}{
	{OutOfRange, "out-of-range"},
	{Stuck, "stuck"},
	{CounterWentBack, "counter-went-back"},
	{ClockUnsynced, "clock-unsynced"},
	{ReadError, "read-error"},
	{Humid, "humid"},
	{WarmingUp, "warming-up"},
}

// Names returns the flag names in a fixed order; an ok reading gives ["ok"].
func (f Flags) Names() []string {
	if f == 0 {
		return []string{"ok"}
	}
	var out []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			out = append(out, n.name)
		}
	}
	if rest := f &^ (OutOfRange | Stuck | CounterWentBack | ClockUnsynced | ReadError | Humid | WarmingUp); rest != 0 {
		out = append(out, "unknown")
	}
	return out
}

// ParseFlags returns the flags named by names, as Names gives them; "ok"
// and names it does not know ("unknown") add no flag.
func ParseFlags(names []string) Flags {
	var f Flags
	for _, name := range names {
		for _, n := range flagNames {
			if n.name == name {
				f |= n.f
			}
		}
	}
	return f
}

// String returns the flag names joined by "|".
func (f Flags) String() string { return strings.Join(f.Names(), "|") }

// Reading is one value of one channel of one device at one time.
type Reading struct {
	Device  string    // configured device name, e.g. "aq-1"
	Channel string    // channel name within the device, e.g. "pm25"
	Value   float64   // value in Unit; meaningless when Flags has ReadError
	Unit    Unit      // SenML unit
	Time    time.Time // when the device was read
	Flags   Flags     // quality flags; 0 = ok
}

// Channel describes one channel a Sensor produces, so that the gateway can
// validate ranges and detect stuck values and counters going back.
type Channel struct {
	Name       string  // channel name, e.g. "t" or "e"
	Unit       Unit    // SenML unit
	Min, Max   float64 // physical range; a value outside is flagged OutOfRange
	Counter    bool    // a monotonic counter: a decrease is flagged CounterWentBack
	StuckAfter int     // consecutive identical values before Stuck is flagged; 0 disables
}
