package drivers_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers"
)

// halting is a warming sensor that records its Halt.
type halting struct {
	warming
	halted bool
}

func (h *halting) Halt() error { h.halted = true; return nil }

func TestReadOnce(t *testing.T) {
	var built []*halting
	var got drivers.Device
	drivers.MustRegister(drivers.Driver{Kind: "oneshot-test", Factory: func(dev drivers.Device, _ drivers.Deps) (drivers.Sensor, error) {
		if dev.Options["fail"] == true {
			return nil, errors.New("options.fail: refused")
		}
		got = dev
		h := &halting{warming: warming{empty: 2}}
		built = append(built, h)
		return h, nil
	}})
	dev := drivers.Device{Name: "d", Options: map[string]any{"bus": "sim:i2c-1"}}
	name, rs, err := drivers.ReadOnce(context.Background(), "oneshot-test", dev, drivers.Deps{}, time.Millisecond)
	if err != nil || name != "warming" || len(rs) != 1 || rs[0].Channel != "x" {
		t.Fatalf("ReadOnce = %q, %v, %v; want the warming sensor's first sample", name, rs, err)
	}
	if h := built[0]; h.reads != 3 || !h.halted || got.Name != "d" || got.Options["bus"] != "sim:i2c-1" {
		t.Errorf("sensor read %d times, halted %v, built from %+v; want 3 reads, halted, from the device given", h.reads, h.halted, got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	built = nil
	drivers.MustRegister(drivers.Driver{Kind: "oneshot-never", Factory: func(drivers.Device, drivers.Deps) (drivers.Sensor, error) {
		h := &halting{warming: warming{empty: 1 << 30}}
		built = append(built, h)
		return h, nil
	}})
	if _, _, err := drivers.ReadOnce(ctx, "oneshot-never", dev, drivers.Deps{}, time.Millisecond); !errors.Is(err, drivers.ErrNoData) || !built[0].halted {
		t.Errorf("ReadOnce of a sensor without a sample = %v (halted %v), want ErrNoData and the sensor halted", err, built[0].halted)
	}

	dev.Options["fail"] = true
	if _, _, err := drivers.ReadOnce(context.Background(), "oneshot-test", dev, drivers.Deps{}, time.Millisecond); err == nil || err.Error() != "options.fail: refused" {
		t.Errorf("ReadOnce with options its factory refuses = %v, want the factory's error", err)
	}
	if _, _, err := drivers.ReadOnce(context.Background(), "no-such-driver", dev, drivers.Deps{}, time.Millisecond); err == nil ||
		!strings.Contains(err.Error(), `"no-such-driver" is not a known driver (have `) || !strings.Contains(err.Error(), "oneshot-test") {
		t.Errorf("ReadOnce of an unknown kind = %v, want an error listing the kinds", err)
	}
}

func TestDefaultBus(t *testing.T) {
	tests := []struct {
		kind      drivers.BusKind
		host, sim string
	}{
		{drivers.I2CBus, "/dev/i2c-1", "sim:i2c-1"},
		{drivers.SPIBus, "/dev/spidev0.0", "sim:spi0.0"},
		{drivers.SerialBus, "/dev/ttyAMA0", "sim:uart-1"},
	}
	for _, tt := range tests {
		if h, s := tt.kind.DefaultBus(false), tt.kind.DefaultBus(true); h != tt.host || s != tt.sim {
			t.Errorf("%s: DefaultBus = %q and %q with sim, want %q and %q", tt.kind, h, s, tt.host, tt.sim)
		}
	}
}
