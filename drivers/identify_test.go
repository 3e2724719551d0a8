package drivers_test

import (
	"slices"
	"testing"

	"github.com/edgegw/edgegw/drivers"
	_ "github.com/edgegw/edgegw/drivers/ads1115"
	_ "github.com/edgegw/edgegw/drivers/bme280"
	_ "github.com/edgegw/edgegw/drivers/scd4x"
	"github.com/edgegw/edgegw/drivers/sim/chips"
	_ "github.com/edgegw/edgegw/drivers/sps30"
)

// TestScanI2C: every address that answers is listed, named by the drivers
// registered for it: by chip id or config register where the chip has one,
// by address for the Sensirion sensors, "unknown" where no driver knows it.
func TestScanI2C(t *testing.T) {
	b := chips.NewI2CBus("sim:i2c-1", nil)
	b.Attach(0x20, chips.NewADS1115()) // an address no driver claims
	got := drivers.ScanI2C(b)
	want := []drivers.I2CDevice{
		{Addr: 0x20, Chip: "unknown"},
		{Addr: 0x48, Chip: "ADS1x15 ADC (config 0x8583)"},
		{Addr: 0x62, Chip: "SCD4x CO2 sensor? (by its address)"},
		{Addr: 0x69, Chip: "SPS30 particulate sensor? (by its address)"},
		{Addr: 0x76, Chip: "BME280 (chip id 0x60)"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("ScanI2C = %+v\nwant %+v", got, want)
	}
	if got := drivers.ScanI2C(chips.NewBus("empty", nil)); got == nil || len(got) != 0 {
		t.Errorf("ScanI2C of an empty bus = %#v, want an empty list", got)
	}
}
