package ingest

import (
	"slices"
	"testing"
)

// TestBatches: the queued values come in batches of at most n, in order,
// and the batches end when the channel is closed and empty.
func TestBatches(t *testing.T) {
	ch := make(chan int, 5)
	for i := range 5 {
		ch <- i
	}
	close(ch)
	var got [][]int
	for b := range batches(ch, 2) {
		got = append(got, b)
	}
	want := [][]int{{0, 1}, {2, 3}, {4}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("batches = %v, want %v", got, want)
	}
}
