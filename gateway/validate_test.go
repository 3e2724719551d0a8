package gateway

import (
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers/reading"
)

func TestValidatorFlags(t *testing.T) {
	chs := []reading.Channel{
		{Name: "rh", Unit: reading.RelHumid, Min: 0, Max: 100, StuckAfter: 2},
		{Name: "e", Unit: reading.KWh, Min: 0, Max: 1e9, Counter: true},
	}
	v := newValidator(chs)
	poll := func(rh, e float64, unsynced bool) []reading.Flags {
		rs := []reading.Reading{{Channel: "rh", Value: rh}, {Channel: "e", Value: e}}
		v.check(rs, unsynced)
		return []reading.Flags{rs[0].Flags, rs[1].Flags}
	}
	steps := []struct {
		name   string
		rh, e  float64
		synced bool
		want   [2]reading.Flags
	}{
		{"first poll ok", 50, 10, true, [2]reading.Flags{0, 0}},
		{"same once is not stuck", 50, 11, true, [2]reading.Flags{0, 0}},
		{"same twice is stuck", 50, 12, true, [2]reading.Flags{reading.Stuck, 0}},
		{"change clears stuck; counter back", 51, 11.5, true, [2]reading.Flags{0, reading.CounterWentBack}},
		{"out of range", 101, 12, true, [2]reading.Flags{reading.OutOfRange, 0}},
		{"clock unsynced on all", 40, 13, false, [2]reading.Flags{reading.ClockUnsynced, reading.ClockUnsynced}},
	}
	for _, s := range steps {
		got := poll(s.rh, s.e, !s.synced)
		if got[0] != s.want[0] || got[1] != s.want[1] {
			t.Errorf("%s: flags = %v, %v; want %v, %v", s.name, got[0], got[1], s.want[0], s.want[1])
		}
	}
}

func TestFailedReadings(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rs := failedReadings("m", []reading.Channel{{Name: "v1", Unit: reading.Volt}, {Name: "e", Unit: reading.KWh}}, at)
	if len(rs) != 2 || rs[1].Channel != "e" || rs[1].Unit != reading.KWh || rs[0].Flags != reading.ReadError || !rs[0].Time.Equal(at) || rs[0].Device != "m" {
		t.Errorf("failedReadings = %+v", rs)
	}
}

func TestHumidFlagsParticulateMatter(t *testing.T) {
	h := &humidity{threshold: 85}
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	pm := func(at time.Time) reading.Flags {
		rs := []reading.Reading{{Channel: "pm25", Unit: reading.MicrogramM, Value: 30}, {Channel: "t", Unit: reading.Celsius, Value: 12}}
		h.apply(rs, at, 5*time.Second)
		if rs[1].Flags != 0 {
			t.Errorf("temperature flagged %v", rs[1].Flags)
		}
		return rs[0].Flags
	}
	if f := pm(t0); f != 0 {
		t.Errorf("PM without any RH reading flagged %v", f)
	}
	h.apply([]reading.Reading{{Channel: "rh", Unit: reading.RelHumid, Value: 91}}, t0, 5*time.Second)
	if f := pm(t0.Add(time.Second)); f != reading.Humid {
		t.Errorf("PM at 91 %%RH flagged %v, want humid", f)
	}
	if f := pm(t0.Add(15 * time.Second)); f != 0 {
		t.Errorf("PM with a stale RH reading flagged %v", f)
	}
	h.apply([]reading.Reading{{Channel: "rh", Unit: reading.RelHumid, Value: 60}}, t0.Add(20*time.Second), 5*time.Second)
	if f := pm(t0.Add(21 * time.Second)); f != 0 {
		t.Errorf("PM at 60 %%RH flagged %v", f)
	}
	// A poll carrying both RH and PM is judged on its own RH.
	rs := []reading.Reading{{Channel: "rh", Unit: reading.RelHumid, Value: 95}, {Channel: "pm10", Unit: reading.MicrogramM, Value: 40}}
	h.apply(rs, t0.Add(22*time.Second), 5*time.Second)
	if rs[1].Flags != reading.Humid {
		t.Errorf("PM polled with 95 %%RH flagged %v", rs[1].Flags)
	}
}
