package buffer

import (
	"fmt"
	"testing"
)

// TestSeqSet checks the run arithmetic the salvage relies on against a plain
// map of numbers.
func TestSeqSet(t *testing.T) {
	var s seqSet
	want := map[uint64]bool{}
	add := func(from, to uint64) {
		s.add(from, to)
		for i := from; i <= to; i++ {
			want[i] = true
		}
	}
	add(10, 12)
	add(20, 20)
	add(13, 15) // joins 10..12
	add(18, 19) // joins 20
	add(1, 3)
	s.remove(2)
	delete(want, 2)
	s.remove(10)
	delete(want, 10)
	s.remove(20)
	delete(want, 20)
	s.remove(99) // absent
	if got := fmt.Sprint(s.runs); got != "[{1 1} {3 3} {11 15} {18 19}]" {
		t.Fatalf("runs = %s", got)
	}
	for i := uint64(0); i < 30; i++ {
		if s.has(i) != want[i] {
			t.Errorf("has(%d) = %v", i, s.has(i))
		}
	}
	if got := fmt.Sprint(s.minus(0, 25)); got != "[{0 0} {2 2} {4 10} {16 17} {20 25}]" {
		t.Errorf("minus(0, 25) = %s", got)
	}
	if got := fmt.Sprint(s.minus(11, 15)); got != "[]" {
		t.Errorf("minus(11, 15) = %s", got)
	}
	if got := fmt.Sprint(s.within(2, 12)); got != "[{3 3} {11 12}]" {
		t.Errorf("within(2, 12) = %s", got)
	}
	add(2, 17) // fills every hole up to 19
	if got := fmt.Sprint(s.runs); got != "[{1 19}]" {
		t.Errorf("runs after filling = %s", got)
	}
}
