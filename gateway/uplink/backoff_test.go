package uplink

import (
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/mqtt"
)

func TestBackoffDelay(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	var asked []int64
	top := func(n int64) int64 { asked = append(asked, n); return n - 1 } // largest draw
	wantCeil := []time.Duration{
		100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, 1600 * time.Millisecond, 2 * time.Second, 2 * time.Second,
	}
	for attempt, want := range wantCeil {
		if got := backoffDelay(attempt, lo, hi, top); got != want {
			t.Errorf("attempt %d: delay %v, want cap %v", attempt, got, want)
		}
		if got := backoffDelay(attempt, lo, hi, func(int64) int64 { return 0 }); got != 0 {
			t.Errorf("attempt %d: smallest draw %v, want 0 (full jitter)", attempt, got)
		}
	}
	for i, n := range asked {
		if want := int64(wantCeil[i]) + 1; n != want {
			t.Errorf("attempt %d: rand asked for [0,%d), want [0,%d)", i, n, want)
		}
	}
	// Large attempts neither overflow nor exceed the cap.
	for _, attempt := range []int{30, 62, 63, 64, 1000} {
		if got := backoffDelay(attempt, lo, hi, top); got != hi {
			t.Errorf("attempt %d: delay %v, want %v", attempt, got, hi)
		}
	}
	if got := backoffDelay(3, time.Hour, 1<<62, top); got != 8*time.Hour {
		t.Errorf("large min: %v, want 8h", got)
	}
}

func TestBrokerURL(t *testing.T) {
	for _, tc := range []struct {
		in, dial, host, err string
	}{
		{in: "ssl://broker.example:8883", dial: "ssl://broker.example:8883", host: "broker.example"},
		{in: "tls://10.0.0.1:1883", dial: "ssl://10.0.0.1:1883", host: "10.0.0.1"},
		{in: "mqtts://broker.example", dial: "ssl://broker.example:8883", host: "broker.example"},
		{in: "mqtts://[::1]:8884", dial: "ssl://[::1]:8884", host: "::1"},
		{in: "tcp://broker.example:1883", err: "not supported"},
		{in: "mqtt://broker.example", err: "not supported"},
		{in: "ssl://:8883", err: "no host"},
		{in: "ssl://broker/path", err: "unexpected path"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			dial, host, err := mqtt.BrokerURL(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || dial != tc.dial || host != tc.host {
				t.Fatalf("got %q %q %v, want %q %q", dial, host, err, tc.dial, tc.host)
			}
		})
	}
}

func TestRepublishDelay(t *testing.T) {
	for _, tc := range []struct {
		retries int
		timeout time.Duration
		want    time.Duration
	}{
		{0, time.Minute, time.Minute},
		{1, time.Minute, 2 * time.Minute},
		{3, time.Minute, 8 * time.Minute},
		{4, time.Minute, maxRepublishDelay},
		{1000, time.Minute, maxRepublishDelay},
		{2, 100 * time.Millisecond, 400 * time.Millisecond},
		{0, time.Hour, time.Hour}, // never below the timeout
		{5, time.Hour, time.Hour},
	} {
		if got := republishDelay(tc.retries, tc.timeout); got != tc.want {
			t.Errorf("republishDelay(%d, %v) = %v, want %v", tc.retries, tc.timeout, got, tc.want)
		}
	}
}

func TestEvery(t *testing.T) {
	e := every{period: time.Minute}
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{0, true}, {time.Second, false}, {59 * time.Second, false}, {time.Minute, true},
		{61 * time.Second, false}, {-time.Hour, true}, // the clock went back
	} {
		if got := e.allow(t0.Add(tc.at)); got != tc.want {
			t.Errorf("allow at %v = %v, want %v", tc.at, got, tc.want)
		}
	}
}
