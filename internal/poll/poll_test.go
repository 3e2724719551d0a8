package poll_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/poll"
)

// recorder is a testing.TB whose Fatalf records the failure and ends the
// goroutine, as testing's does, without failing the test.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestUntil: a condition that becomes true ends the wait; one that never
// does fails the test after the timeout, naming what it waited for.
func TestUntil(t *testing.T) {
	var n atomic.Int32
	poll.Until(t, 10*time.Second, "the third poll", func() bool { return n.Add(1) >= 3 })
	if got := n.Load(); got != 3 {
		t.Errorf("cond called %d times, want 3", got)
	}
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		poll.Until(r, 20*time.Millisecond, "what never comes", func() bool { return false })
	}()
	<-done
	if !strings.Contains(r.failed, "timed out after 20ms waiting for what never comes") {
		t.Errorf("failure %q does not say what it waited for and how long", r.failed)
	}
}
