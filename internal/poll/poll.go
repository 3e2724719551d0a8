// Package poll is how edgegw's tests wait: they poll a condition against a
// deadline instead of sleeping for a guessed time.
package poll

import (
	"testing"
	"time"
)

// Until polls cond until it holds, or fails the test after timeout naming
// what it waited for. It polls a thousand times in timeout, at most every
// 5ms.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(max(timeout/1000, 5*time.Millisecond))
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}
