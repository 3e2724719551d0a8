package backend

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRangesAgainstAMap(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var rs ranges
		set := map[uint64]bool{}
		for range 30 {
			from := rnd.Uint64N(100)
			to := from + rnd.Uint64N(6)
			rs.add(from, to)
			for v := from; v <= to; v++ {
				set[v] = true
			}
		}
		for i, r := range rs {
			if r[0] > r[1] || (i > 0 && r[0] <= rs[i-1][1]+1) {
				t.Fatalf("round %d: not merged: %v", round, rs)
			}
		}
		var n uint64
		for v := uint64(0); v < 120; v++ {
			if rs.contains(v) != set[v] {
				t.Fatalf("round %d: contains(%d) = %v: %v", round, v, !set[v], rs)
			}
			if set[v] {
				n++
			}
		}
		if rs.count() != n {
			t.Fatalf("count %d, want %d", rs.count(), n)
		}
		var want ranges
		for v := uint64(1); v <= 110; v++ {
			if !set[v] {
				if len(want) > 0 && want[len(want)-1][1] == v-1 {
					want[len(want)-1][1] = v
				} else {
					want = append(want, [2]uint64{v, v})
				}
			}
		}
		if got := rs.holes(1, 110); !slices.Equal(got, want) {
			t.Fatalf("round %d: holes %v, want %v (set %v)", round, got, want, rs)
		}
	}
}

func TestRangesHugeNumbers(t *testing.T) {
	var rs ranges
	rs.add(1, 3)
	rs.add(1_796_130_271, 1_796_130_271)
	rs.add(math.MaxUint64-1, math.MaxUint64)
	rs.add(0, 0)
	want := ranges{{4, 1_796_130_270}, {1_796_130_272, math.MaxUint64 - 2}}
	if got := rs.holes(1, math.MaxUint64); !slices.Equal(got, want) {
		t.Fatalf("holes %v, want %v", got, want)
	}
}
