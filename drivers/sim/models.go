package sim

import (
	"hash/fnv"
	"math"
	"time"

	"github.com/edgegw/edgegw/drivers/reading"
)

// signal describes how one simulated channel varies over time.
type signal struct {
	reading.Channel
	base, amplitude float64       // value = base + amplitude*sin(...)
	period          time.Duration // period of the variation
	resolution      float64       // values are rounded to a multiple of this
	rate            float64       // counters: increase per hour
}

// models maps a model name to its channels, in the order they are read.
var models = map[string][]signal{
	"airquality": {
		{Channel: reading.Channel{Name: "t", Unit: reading.Celsius, Min: -40, Max: 85}, base: 21, amplitude: 6, period: 24 * time.Hour, resolution: 0.01},
		{Channel: reading.Channel{Name: "rh", Unit: reading.RelHumid, Min: 0, Max: 100}, base: 55, amplitude: 20, period: 12 * time.Hour, resolution: 0.1},
		{Channel: reading.Channel{Name: "p", Unit: reading.Pascal, Min: 30000, Max: 110000}, base: 101325, amplitude: 800, period: 48 * time.Hour, resolution: 1},
		{Channel: reading.Channel{Name: "co2", Unit: reading.PPM, Min: 0, Max: 40000}, base: 520, amplitude: 120, period: 6 * time.Hour, resolution: 1},
		{Channel: reading.Channel{Name: "pm1", Unit: reading.MicrogramM, Min: 0, Max: 1000}, base: 9, amplitude: 5, period: 3 * time.Hour, resolution: 0.1},
		{Channel: reading.Channel{Name: "pm25", Unit: reading.MicrogramM, Min: 0, Max: 1000}, base: 18, amplitude: 10, period: 3 * time.Hour, resolution: 0.1},
		{Channel: reading.Channel{Name: "pm10", Unit: reading.MicrogramM, Min: 0, Max: 1000}, base: 32, amplitude: 15, period: 3 * time.Hour, resolution: 0.1},
		{Channel: reading.Channel{Name: "no2", Unit: reading.PPB, Min: 0, Max: 20000}, base: 25, amplitude: 12, period: 8 * time.Hour, resolution: 1},
	},
	"meter3p": {
		{Channel: reading.Channel{Name: "v1", Unit: reading.Volt, Min: 0, Max: 500}, base: 230, amplitude: 4, period: time.Hour, resolution: 0.1},
		{Channel: reading.Channel{Name: "v2", Unit: reading.Volt, Min: 0, Max: 500}, base: 231, amplitude: 4, period: time.Hour, resolution: 0.1},
		{Channel: reading.Channel{Name: "v3", Unit: reading.Volt, Min: 0, Max: 500}, base: 229, amplitude: 4, period: time.Hour, resolution: 0.1},
		{Channel: reading.Channel{Name: "i1", Unit: reading.Ampere, Min: 0, Max: 100}, base: 6, amplitude: 3, period: 2 * time.Hour, resolution: 0.01},
		{Channel: reading.Channel{Name: "i2", Unit: reading.Ampere, Min: 0, Max: 100}, base: 5, amplitude: 3, period: 2 * time.Hour, resolution: 0.01},
		{Channel: reading.Channel{Name: "i3", Unit: reading.Ampere, Min: 0, Max: 100}, base: 7, amplitude: 3, period: 2 * time.Hour, resolution: 0.01},
		{Channel: reading.Channel{Name: "p1", Unit: reading.Watt, Min: -25000, Max: 25000}, base: 1380, amplitude: 690, period: 2 * time.Hour, resolution: 1},
		{Channel: reading.Channel{Name: "p2", Unit: reading.Watt, Min: -25000, Max: 25000}, base: 1150, amplitude: 690, period: 2 * time.Hour, resolution: 1},
		{Channel: reading.Channel{Name: "p3", Unit: reading.Watt, Min: -25000, Max: 25000}, base: 1610, amplitude: 690, period: 2 * time.Hour, resolution: 1},
		{Channel: reading.Channel{Name: "p", Unit: reading.Watt, Min: -75000, Max: 75000}, base: 4140, amplitude: 2070, period: 2 * time.Hour, resolution: 1},
		{Channel: reading.Channel{Name: "e", Unit: reading.KWh, Min: 0, Max: 1e9, Counter: true}, base: 1500, rate: 4.14, resolution: 0.01},
		{Channel: reading.Channel{Name: "f", Unit: reading.Hertz, Min: 45, Max: 65}, base: 50, amplitude: 0.05, period: 10 * time.Minute, resolution: 0.01},
	},
}

// Models lists the simulated models.
func Models() []string { return []string{"airquality", "meter3p"} }

// Value is the value a simulated device of the given model, seed and name
// reports for channel at time t. It reports false for an unknown model or
// channel.
func Value(model string, seed int64, device, channel string, t time.Time) (float64, bool) {
	for _, s := range models[model] {
		if s.Name == channel {
			return s.at(phase(seed, device, channel), t), true
		}
	}
	return 0, false
}

// at computes the signal at time t with the given phase in [0, 1).
func (s signal) at(ph float64, t time.Time) float64 {
	var v float64
	if s.rate != 0 {
		// A counter rising linearly from base at the Unix epoch of 2026.
		hours := t.Sub(counterEpoch).Hours()
		v = s.base + ph*1000 + math.Max(hours, 0)*s.rate
	} else {
		x := 2 * math.Pi * (float64(t.UnixNano())/float64(s.period.Nanoseconds()) + ph)
		v = s.base + s.amplitude*math.Sin(x)
	}
	v = math.Round(v/s.resolution) * s.resolution
	return float64(float32(v))
}

var counterEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// phase derives a per-device, per-channel phase in [0, 1) from the seed.
func phase(seed int64, device, channel string) float64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(seed >> (8 * i))
	}
	h.Write(b[:])
	h.Write([]byte(device))
	h.Write([]byte{0})
	h.Write([]byte(channel))
	return float64(h.Sum64()>>11) / (1 << 53)
}
