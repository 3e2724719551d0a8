package drivers_test

import (
	"slices"
	"testing"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/reading"
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
	if drivers.Channels("test-kind") != nil {
		t.Errorf("channels of a kind that registered none: %v", drivers.Channels("test-kind"))
	}
	chans := []reading.Channel{{Name: "t", Unit: reading.Celsius}}
	drivers.MustRegisterChannels("test-kind", chans)
	if got := drivers.Channels("test-kind"); len(got) != 1 || got[0] != chans[0] {
		t.Errorf("Channels(test-kind) = %v, want %v", got, chans)
	}
	mustPanic(t, "channels twice", func() { drivers.MustRegisterChannels("test-kind", chans) })
	mustPanic(t, "channels of an unknown kind", func() { drivers.MustRegisterChannels("no-such-kind", chans) })
	if got := drivers.BusKindOf("test-kind"); got != drivers.I2CBus {
		t.Errorf("BusKindOf(test-kind) before registering = %q, want i2c", got)
	}
	drivers.MustRegisterBusKind("test-kind", drivers.SPIBus)
	if got := drivers.BusKindOf("test-kind"); got != drivers.SPIBus {
		t.Errorf("BusKindOf(test-kind) = %q, want spi", got)
	}
	mustPanic(t, "bus kind twice", func() { drivers.MustRegisterBusKind("test-kind", drivers.SerialBus) })
	mustPanic(t, "bus kind of an unknown kind", func() { drivers.MustRegisterBusKind("no-such-kind", drivers.SerialBus) })
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
