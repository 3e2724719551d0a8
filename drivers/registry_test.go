package drivers_test

import (
	"slices"
	"testing"

	"github.com/edgegw/edgegw/drivers"
)

func TestFlagsNames(t *testing.T) {
	tests := []struct {
		name string
		f    drivers.Flags
		want string
	}{
		{"ok", 0, "ok"},
		{"one", drivers.Stuck, "stuck"},
		{"several in fixed order", drivers.ReadError | drivers.OutOfRange | drivers.ClockUnsynced, "out-of-range|clock-unsynced|read-error"},
		{"unknown bit", 1 << 12, "unknown"},
		{"humid and warming up", drivers.Humid | drivers.WarmingUp, "humid|warming-up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.String(); got != tt.want {
				t.Errorf("Flags(%d).String() = %q, want %q", tt.f, got, tt.want)
			}
		})
	}
}

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
