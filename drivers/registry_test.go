package drivers_test

import (
	"slices"
	"testing"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/reading"
)

func TestRegistry(t *testing.T) {
	f := func(drivers.Device, drivers.Deps) (drivers.Sensor, error) { return nil, nil }
	drivers.MustRegister(drivers.Driver{Kind: "test-kind", Factory: f})
	if _, ok := drivers.Lookup("test-kind"); !ok {
		t.Fatal("registered kind not found")
	}
	if !slices.Contains(drivers.Kinds(), "test-kind") {
		t.Errorf("Kinds() = %v, want it to contain test-kind", drivers.Kinds())
	}
	mustPanic(t, "duplicate", func() { drivers.MustRegister(drivers.Driver{Kind: "test-kind", Factory: f}) })
	if drivers.Channels("test-kind") != nil {
		t.Errorf("channels of a kind that registered none: %v", drivers.Channels("test-kind"))
	}
	if got := drivers.BusKindOf("test-kind"); got != drivers.I2CBus {
		t.Errorf("BusKindOf(test-kind), registered without a bus = %q, want i2c", got)
	}

	chans := []reading.Channel{{Name: "t", Unit: reading.Celsius}}
	drivers.MustRegister(drivers.Driver{Kind: "test-spi", Factory: f, Channels: chans, Bus: drivers.SPIBus})
	chans[0].Name = "changed by the caller"
	if got := drivers.Channels("test-spi"); len(got) != 1 || got[0].Name != "t" {
		t.Errorf("Channels(test-spi) = %v, want the channel t as registered", got)
	}
	if got := drivers.BusKindOf("test-spi"); got != drivers.SPIBus {
		t.Errorf("BusKindOf(test-spi) = %q, want spi", got)
	}
	drivers.Freeze()
	mustPanic(t, "after freeze", func() { drivers.MustRegister(drivers.Driver{Kind: "other-kind", Factory: f}) })
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
