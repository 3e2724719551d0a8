package modbusmeter

import (
	"cmp"
	"slices"
)

// Request is one read transaction of a plan and the points it serves.
type Request struct {
	FC     uint8
	Addr   uint16
	Count  uint16 // registers, 1..125
	Points []int  // indexes into the profile's points
}

// Wire-cost model, in characters on the line: a request costs its 8-byte
// request frame, the 5-byte reply envelope and 3.5 characters of silence
// after each frame (20 characters), plus 2 characters per register read.
const (
	requestChars = 8 + 5 + 7
	regChars     = 2
)

// Chars returns the line characters of a plan under the cost model, plus
// latencyChars for every request (the meter's own turnaround, in characters).
func Chars(plan []Request, latencyChars int) int {
	n := 0
	for _, r := range plan {
		n += requestChars + latencyChars + regChars*int(r.Count)
	}
	return n
}

// MinChars is a layout-free lower bound of Chars for the points: every
// needed register read exactly once, in as few requests as the per-request
// limit allows, as if the registers were contiguous. No plan reaches it
// when the register map has holes; the optimum a meter allows is
// Chars(Plan(p, MaxRegs, latencyChars), latencyChars).
func MinChars(p *Profile, latencyChars int) int {
	regs := map[[2]int]bool{}
	for _, pt := range p.Points {
		for w := range pt.Type.Words() {
			regs[[2]int{int(pt.FC), int(pt.Addr) + w}] = true
		}
	}
	perFC := map[int]int{}
	for k := range regs {
		perFC[k[0]]++
	}
	n := 0
	for _, c := range perFC {
		reqs := (c + p.MaxRegs - 1) / p.MaxRegs
		n += reqs*(requestChars+latencyChars) + regChars*c
	}
	return n
}

// Plan groups the profile's points into the read requests with the lowest
// wire cost (Chars) such that no request reads more than the profile's
// MaxRegs registers, crosses a function code or a no-span range, or reads
// through a hole of more than gapBudget unneeded registers. latencyChars
// is the meter's turnaround per request in characters (0 if unknown): the
// larger it is, the more worth reading through holes becomes. Plan is
// optimal for that model: points sorted by address are split into runs by
// dynamic programming over every possible split.
func Plan(p *Profile, gapBudget, latencyChars int) []Request {
	idx := make([]int, len(p.Points))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		pa, pb := p.Points[a], p.Points[b]
		return cmp.Or(cmp.Compare(pa.FC, pb.FC), cmp.Compare(pa.Addr, pb.Addr))
	})
	// A run idx[i..j] is feasible when one request can read it.
	feasible := func(i, j int) bool {
		first := p.Points[idx[i]]
		end := int(first.Addr) + first.Type.Words() // one past the highest register so far
		for k := i + 1; k <= j; k++ {
			pt := p.Points[idx[k]]
			if pt.FC != first.FC {
				return false
			}
			if gap := int(pt.Addr) - end; gap > gapBudget || (gap > 0 && p.blocked(pt.FC, end, int(pt.Addr)-1)) {
				return false
			}
			end = max(end, int(pt.Addr)+pt.Type.Words())
		}
		return end-int(first.Addr) <= p.MaxRegs
	}
	count := func(i, j int) int {
		end := 0
		for k := i; k <= j; k++ {
			pt := p.Points[idx[k]]
			end = max(end, int(pt.Addr)+pt.Type.Words())
		}
		return end - int(p.Points[idx[i]].Addr)
	}
	n := len(idx)
	const inf = int(^uint(0) >> 1)
	best := make([]int, n+1) // best[k] = cost of the first k points
	from := make([]int, n+1)
	for k := 1; k <= n; k++ {
		best[k] = inf
		for i := k - 1; i >= 0; i-- {
			if !feasible(i, k-1) {
				if p.Points[idx[i]].FC != p.Points[idx[k-1]].FC || int(p.Points[idx[k-1]].Addr)-int(p.Points[idx[i]].Addr) > p.MaxRegs {
					break // extending further left can only get worse
				}
				continue
			}
			if best[i] == inf {
				continue
			}
			if c := best[i] + requestChars + latencyChars + regChars*count(i, k-1); c < best[k] {
				best[k], from[k] = c, i
			}
		}
	}
	var plan []Request
	for k := n; k > 0; k = from[k] {
		i := from[k]
		r := Request{FC: p.Points[idx[i]].FC, Addr: p.Points[idx[i]].Addr, Count: uint16(count(i, k-1))}
		r.Points = append(r.Points, idx[i:k]...)
		plan = append(plan, r)
	}
	slices.Reverse(plan)
	return plan
}

// blocked reports whether registers [from, to] of fc touch a no-span range.
func (p *Profile) blocked(fc uint8, from, to int) bool {
	for _, s := range p.NoSpan {
		if s.FC == fc && int(s.From) <= to && from <= int(s.To) {
			return true
		}
	}
	return false
}

// PlanEach is the naive plan: one request per point.
func PlanEach(p *Profile) []Request {
	out := make([]Request, len(p.Points))
	for i, pt := range p.Points {
		out[i] = Request{FC: pt.FC, Addr: pt.Addr, Count: uint16(pt.Type.Words()), Points: []int{i}}
	}
	return out
}
