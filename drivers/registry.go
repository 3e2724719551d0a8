package drivers

import (
	"fmt"
	"sort"
	"sync"
)

var registry = struct {
	sync.Mutex
	frozen    bool
	factories map[string]Factory
}{factories: map[string]Factory{}}

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
