package drivers_test

import (
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers"
)

// TestDefaults: the fields left at zero get their defaults, a negative
// warm-up means none, and what was set stays.
func TestDefaults(t *testing.T) {
	var c drivers.Common
	c.Defaults("/dev/i2c-1", time.Minute)
	if c.BusName != "/dev/i2c-1" || c.Now == nil || c.Logger == nil || c.Warmup != time.Minute {
		t.Errorf("zero Common with defaults = %+v", c)
	}
	c = drivers.Common{BusName: "sim:i2c-1", Warmup: -1}
	c.Defaults("/dev/i2c-1", time.Minute)
	if c.BusName != "sim:i2c-1" || c.Warmup != 0 {
		t.Errorf("set Common with defaults = %+v, want its bus and no warm-up", c)
	}
	c = drivers.Common{Warmup: 5 * time.Second}
	c.Defaults("", time.Minute)
	if c.Warmup != 5*time.Second {
		t.Errorf("warm-up 5s with defaults = %v", c.Warmup)
	}
}

func TestDefaulted(t *testing.T) {
	for _, tt := range []struct{ v, def, want int }{{0, 8, 8}, {-1, 8, 0}, {3, 8, 3}} {
		if got := drivers.Defaulted(tt.v, tt.def); got != tt.want {
			t.Errorf("Defaulted(%d, %d) = %d, want %d", tt.v, tt.def, got, tt.want)
		}
	}
}
