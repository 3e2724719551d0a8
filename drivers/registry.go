package drivers

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/edgegw/edgegw/drivers/reading"
)

var registry = struct {
	sync.Mutex
	frozen      bool
	drivers     map[string]Driver
	identifiers map[uint16][]Identify // by I²C address
}{drivers: map[string]Driver{}, identifiers: map[uint16][]Identify{}}

// Driver is a driver kind as its package registers it.
type Driver struct {
	Kind    string // the configuration's devices[].driver
	Factory Factory
	// Channels are the channels every device of the kind produces, for
	// help texts (`edgegw watch --help`); none when the configuration
	// names them (an ADC's inputs, a meter profile's points).
	Channels []reading.Channel
	// Bus is the kind of bus its devices are attached to; I2CBus when
	// empty.
	Bus BusKind
	// Identify recognises the driver's chip at each of Addrs in an I²C
	// scan (ScanI2C); nil when it cannot be scanned for.
	Identify Identify
	Addrs    []uint16
}

// MustRegister makes a driver kind available to the configuration. It is
// called from the driver package's init and panics on a duplicate kind or
// after Freeze.
func MustRegister(d Driver) {
	registry.Lock()
	defer registry.Unlock()
	if registry.frozen {
		panic(fmt.Sprintf("drivers: register %q after start", d.Kind))
	}
	if _, dup := registry.drivers[d.Kind]; dup {
		panic(fmt.Sprintf("drivers: kind %q registered twice", d.Kind))
	}
	if d.Bus == "" {
		d.Bus = I2CBus
	}
	d.Channels, d.Addrs = slices.Clone(d.Channels), slices.Clone(d.Addrs)
	registry.drivers[d.Kind] = d
	if d.Identify != nil {
		for _, a := range d.Addrs {
			registry.identifiers[a] = append(registry.identifiers[a], d.Identify)
		}
	}
}

// BusKindOf returns the kind of bus the devices of a driver kind are
// attached to: I2CBus unless the driver registered another.
func BusKindOf(kind string) BusKind {
	registry.Lock()
	defer registry.Unlock()
	if d, ok := registry.drivers[kind]; ok {
		return d.Bus
	}
	return I2CBus
}

// Channels returns the channels every device of a driver kind produces, or
// nil when the configuration names them.
func Channels(kind string) []reading.Channel {
	registry.Lock()
	defer registry.Unlock()
	return slices.Clone(registry.drivers[kind].Channels)
}

// StuckAfter returns a copy of chans with StuckAfter set to n: the
// channels of a device configured with options.stuck_after.
func StuckAfter(chans []reading.Channel, n int) []reading.Channel {
	out := slices.Clone(chans)
	for i := range out {
		out[i].StuckAfter = n
	}
	return out
}

// Freeze refuses further registrations. The gateway calls it when it starts.
func Freeze() {
	registry.Lock()
	registry.frozen = true
	registry.Unlock()
}

// Lookup returns the factory of a driver kind.
func Lookup(kind string) (Factory, bool) {
	registry.Lock()
	defer registry.Unlock()
	d, ok := registry.drivers[kind]
	return d.Factory, ok
}

// Find returns the factory of a driver kind, or an error naming kind and the
// kinds this build has.
func Find(kind string) (Factory, error) {
	if f, ok := Lookup(kind); ok {
		return f, nil
	}
	return nil, fmt.Errorf("%q is not a known driver (have %s)", kind, strings.Join(Kinds(), ", "))
}

// Kinds lists the registered driver kinds in order.
func Kinds() []string {
	registry.Lock()
	defer registry.Unlock()
	out := make([]string, 0, len(registry.drivers))
	for k := range registry.drivers {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
