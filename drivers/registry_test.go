package drivers_test

import (
	"slices"
	"testing"

	"github.com/edgegw/edgegw/drivers"
)

func TestRegistry(t *testing.T) {
	f := func(drivers.Device, drivers.Deps) (drivers.Sensor, error) { return nil, nil }
	drivers.MustRegister("test-kind", f)
	if _, ok := drivers.Lookup("test-kind"); !ok {
		t.Fatal("registered kind not found")
	}
	if !slices.Contains(drivers.Kinds(), "test-kind") {
		t.Errorf("Kinds() = %v, want it to contain test-kind", drivers.Kinds())
	}
	mustPanic(t, "duplicate", func() { drivers.MustRegister("test-kind", f) })
	drivers.Freeze()
	mustPanic(t, "after freeze", func() { drivers.MustRegister("other-kind", f) })
}

func mustPanic(t *testing.T, name string, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: MustRegister did not panic", name)
		}
	}()
	fn()
}
