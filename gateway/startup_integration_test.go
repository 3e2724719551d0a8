package gateway_test

import (
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/poll"
)

// TestIntegrationFirstPublish: a device polled every 30 s is polled as the
// agent starts, so its first readings reach the backend one max_delay
// (300 ms) after the start plus the time to connect, not up to an interval
// later.
func TestIntegrationFirstPublish(t *testing.T) {
	slow := []simDevice{{"aq-slow", "airquality", "telemetry", 1, 30 * time.Second}}
	b := newBed(t, bedOptions{durability: 100 * time.Millisecond, maxDelay: 300 * time.Millisecond, maxBytes: "64MiB", maxReadings: 100, sim: slow})
	c := b.subscribe(t)
	start := time.Now()
	_, stop := startAgent(t, b, 5*time.Second)
	poll.Until(t, 20*time.Second, "the first readings at the backend", func() bool { return c.count() > 0 })
	first := time.Since(start)
	must.NoError(t, stop())
	t.Logf("first readings at the backend %v after the start (max_delay 300ms, interval 30s)", first.Round(time.Millisecond))
	if first > 3*time.Second {
		t.Errorf("first readings %v after the start, want within max_delay and a connection (3s)", first)
	}
	tr := b.traces(t)
	if polls := tr["aq-slow"]; len(polls) == 0 || polls[0].at.Sub(start) > time.Second {
		t.Errorf("first poll %v, want at the start (%v)", polls, start)
	}
}
