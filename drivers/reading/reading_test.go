package reading_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/edgegw/edgegw/drivers/reading"
)

func TestFlagsNames(t *testing.T) {
	tests := []struct {
		name string
		f    reading.Flags
		want string
	}{
		{"ok", 0, "ok"},
		{"one", reading.Stuck, "stuck"},
		{"several in fixed order", reading.ReadError | reading.OutOfRange | reading.ClockUnsynced, "out-of-range|clock-unsynced|read-error"},
		{"unknown bit", 1 << 12, "unknown"},
		{"humid and warming up", reading.Humid | reading.WarmingUp, "humid|warming-up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.String(); got != tt.want {
				t.Errorf("Flags(%d).String() = %q, want %q", tt.f, got, tt.want)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	for _, f := range []reading.Flags{0, reading.Stuck, reading.ReadError | reading.Humid | reading.OutOfRange, reading.WarmingUp | reading.CounterWentBack | reading.ClockUnsynced} {
		if got := reading.ParseFlags(f.Names()); got != f {
			t.Errorf("ParseFlags(%v) = %v, want %v", f.Names(), got, f)
		}
	}
	if got := reading.ParseFlags([]string{"stuck", "unknown", "bogus"}); got != reading.Stuck {
		t.Errorf("ParseFlags with unknown names = %v, want stuck", got)
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		v    float64
		unit reading.Unit
		want string
	}{
		{float64(float32(15.265512466430664)), reading.Celsius, "15.27 °C"},
		{21.7, reading.Celsius, "21.70 °C"},
		{-0.001, reading.Celsius, "0.00 °C"},
		{-3.25, reading.Celsius, "-3.25 °C"},
		{48.203125, reading.RelHumid, "48.20 %RH"},
		{101325.18, reading.Pascal, "1013.25 hPa"},
		{412, reading.PPM, "412 ppm"},
		{3, reading.PPM, "3 ppm"},
		{12.34, reading.MicrogramM, "12.3 µg/m³"},
		{float64(float32(230.1)), reading.Volt, "230.10 V"},
		{1.23456, reading.Volt, "1.23 V"},
		{0.0052, reading.Ampere, "0.005 A"},
		{6.0417, reading.Ampere, "6.042 A"},
		{1380.4, reading.Watt, "1380 W"},
		{123456.75, reading.KWh, "123456.75 kWh"},
		{50.01, reading.Hertz, "50.01 Hz"},
		{float64(float32(0.95)), "/", "0.950"},
		{17, "", "17"},
		{2.5, "lux", "2.5 lux"},
		{0, reading.Watt, "0 W"},
	}
	for _, tt := range tests {
		if got := reading.FormatValue(tt.v, tt.unit); got != tt.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

func TestReadingText(t *testing.T) {
	tests := []struct {
		r    reading.Reading
		want string
	}{
		{reading.Reading{Value: 12, Unit: reading.MicrogramM}, "12.0 µg/m³"},
		{reading.Reading{Value: 12, Unit: reading.MicrogramM, Flags: reading.Humid | reading.Stuck}, "12.0 µg/m³ (stuck,humid)"},
		{reading.Reading{Value: 99, Unit: reading.Ampere, Flags: reading.ReadError}, "? (read-error)"},
	}
	for _, tt := range tests {
		if got := tt.r.Text(); got != tt.want {
			t.Errorf("%+v.Text() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestNumberJSON(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{float64(float32(21.7)), "21.7"},
		{float64(float32(15.265512466430664)), "15.265512"},
		{21.7, "21.7"},
		{0.1, "0.1"},
		{123456.75, "123456.75"},
		{1234567, "1234567"},
		{1e-9, "1e-09"},
		{-0.5, "-0.5"},
	}
	for _, tt := range tests {
		got, err := json.Marshal(reading.Number(tt.v))
		if err != nil || string(got) != tt.want {
			t.Errorf("Number(%v) = %s, %v; want %s", tt.v, got, err, tt.want)
		}
		var back reading.Number
		if err := json.Unmarshal(got, &back); err != nil || float32(back) != float32(tt.v) {
			t.Errorf("Number(%v) reads back as %v, %v", tt.v, back, err)
		}
	}
	if got, err := json.Marshal([]reading.Number{reading.Number(math.NaN()), reading.Number(math.Inf(-1))}); err != nil || string(got) != "[null,null]" {
		t.Errorf("NaN and -Inf = %s, %v; want [null,null]", got, err)
	}
}
