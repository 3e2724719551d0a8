package testclock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/testclock"
)

func TestClock(t *testing.T) {
	var c testclock.Clock
	if got := c.Now(); !got.Equal(testclock.Start) {
		t.Errorf("zero clock at %v, want %v", got, testclock.Start)
	}
	c.Advance(time.Minute)
	must.NoError(t, c.Sleep(context.Background(), time.Second))
	if got := c.Now(); !got.Equal(testclock.Start.Add(time.Minute + time.Second)) {
		t.Errorf("after a minute and a second: %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); err == nil || !c.Now().Equal(testclock.Start.Add(time.Minute+time.Second)) {
		t.Errorf("Sleep on a done context = %v, clock %v: want the context's error and no move", err, c.Now())
	}
	t0 := time.Date(2030, 5, 1, 0, 0, 0, 0, time.UTC)
	n := testclock.New(t0)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { n.Advance(time.Second) })
	}
	wg.Wait()
	if got := n.Now(); !got.Equal(t0.Add(10 * time.Second)) {
		t.Errorf("after 10 concurrent seconds: %v", got)
	}
}
