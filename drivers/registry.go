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
	factories   map[string]Factory
	channels    map[string][]reading.Channel
	identifiers map[uint16][]Identify // by I²C address
	busKinds    map[string]BusKind
}{factories: map[string]Factory{}, channels: map[string][]reading.Channel{}, identifiers: map[uint16][]Identify{}, busKinds: map[string]BusKind{}}

// MustRegister makes a driver kind available to the configuration. It is
// called from the driver package's init and panics on a duplicate kind or
// after Freeze.
func MustRegister(kind string, f Factory) {
	registry.Lock()
	defer registry.Unlock()
	if registry.frozen {
		panic(fmt.Sprintf("drivers: register %q after start", kind))
	}
	if _, dup := registry.factories[kind]; dup {
		panic(fmt.Sprintf("drivers: kind %q registered twice", kind))
	}
	registry.factories[kind] = f
}

// MustRegisterChannels records the channels every device of a registered
// driver kind produces, for help texts (`edgegw watch --help`). A kind whose
// channels the configuration names (an ADC's inputs, a meter profile's
// points) registers none. It panics for a kind not registered, twice, or
// after Freeze.
func MustRegisterChannels(kind string, chans []reading.Channel) {
	registry.Lock()
	defer registry.Unlock()
	mustAddTo(kind, "channels")
	if registry.channels[kind] != nil {
		panic(fmt.Sprintf("drivers: channels of %q registered twice", kind))
	}
	registry.channels[kind] = slices.Clone(chans)
}

// MustRegisterBusKind records the kind of bus the devices of a registered
// driver kind are attached to, when it is not I²C. It panics for a kind not
// registered, twice, or after Freeze.
func MustRegisterBusKind(kind string, bus BusKind) {
	registry.Lock()
	defer registry.Unlock()
	mustAddTo(kind, "bus kind")
	if _, dup := registry.busKinds[kind]; dup {
		panic(fmt.Sprintf("drivers: bus kind of %q registered twice", kind))
	}
	registry.busKinds[kind] = bus
}

// BusKindOf returns the kind of bus the devices of a driver kind are
// attached to: I2CBus unless the driver registered another.
func BusKindOf(kind string) BusKind {
	registry.Lock()
	defer registry.Unlock()
	if b, ok := registry.busKinds[kind]; ok {
		return b
	}
	return I2CBus
}

// mustAddTo panics, naming what is being registered, unless kind is a
// registered driver kind and the registry is not frozen. registry is
// locked.
func mustAddTo(kind, what string) {
	switch _, ok := registry.factories[kind]; {
	case registry.frozen:
		panic(fmt.Sprintf("drivers: register %s of %q after start", what, kind))
	case !ok:
		panic(fmt.Sprintf("drivers: %s of unregistered kind %q", what, kind))
	}
}

// Channels returns the channels every device of a driver kind produces, or
// nil when the configuration names them.
func Channels(kind string) []reading.Channel {
	registry.Lock()
	defer registry.Unlock()
	return slices.Clone(registry.channels[kind])
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
	f, ok := registry.factories[kind]
	return f, ok
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
	out := make([]string, 0, len(registry.factories))
	for k := range registry.factories {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
