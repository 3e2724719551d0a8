package fleetweb

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/drivers/reading"
)

// Sizes of the charts, in SVG user units.
const (
	sparkW, sparkH = 300, 40
	// maxPoints is the most points a sparkline draws: beyond it the
	// readings are reduced to the lowest and highest of each of sparkW time
	// slots, so spikes stay visible.
	maxPoints = 2 * sparkW
	axisW     = 1000 // width of the timeline and the gap axis
	rowH      = 12   // height of one state's row in the timeline
)

// window is the time the charts and the timeline span.
const window = 24 * time.Hour

// mark is a tick on a chart with its tooltip.
type mark struct {
	X     float64
	Class string
	Title string
}

// chart is the sparkline of one device channel.
type chart struct {
	Device, Channel, Unit string
	Readings              int    // readings in the window
	Points                int    // points drawn
	Poly                  string // the polyline's points attribute
	Min, Max, Last        string // formatted values; empty without a value
	Marks                 []mark // read errors and flagged readings, on the time axis
}

// W and H are the chart's size, for the template.
func (chart) W() int { return sparkW }

// H returns the chart's height.
func (chart) H() int { return sparkH }

// charts builds one sparkline per device channel of rs (ordered by device,
// channel and time) over the window ending at now.
func charts(rs []store.Reading, now time.Time) []chart {
	var out []chart
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && rs[j].Device == rs[i].Device && rs[j].Channel == rs[i].Channel {
			j++
		}
		out = append(out, sparkline(rs[i:j], now))
		i = j
	}
	return out
}

// xAt maps t to 0..w over the window ending at now.
func xAt(t, now time.Time, w float64) float64 {
	x := w * (1 - float64(now.Sub(t))/float64(window))
	return math.Max(0, math.Min(w, x))
}

type point struct{ x, v float64 }

// sparkline draws one channel's readings.
func sparkline(rs []store.Reading, now time.Time) chart {
	c := chart{Device: rs[0].Device, Channel: rs[0].Channel, Unit: rs[0].Unit, Readings: len(rs)}
	var pts []point
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rs {
		x := xAt(r.Time, now, sparkW)
		f := reading.Flags(r.Flags)
		if r.Value == nil {
			c.Marks = append(c.Marks, mark{X: x, Class: "err", Title: r.Time.UTC().Format(time.RFC3339) + ": read error"})
			continue
		}
		if bad := f & (reading.Stuck | reading.OutOfRange | reading.CounterWentBack); bad != 0 {
			c.Marks = append(c.Marks, mark{X: x, Class: "flag", Title: fmt.Sprintf("%s: %s flagged %s", r.Time.UTC().Format(time.RFC3339), num(*r.Value), bad)})
		}
		pts = append(pts, point{x, *r.Value})
		lo, hi = math.Min(lo, *r.Value), math.Max(hi, *r.Value)
	}
	if len(pts) == 0 {
		return c
	}
	c.Min, c.Max, c.Last = num(lo), num(hi), num(pts[len(pts)-1].v)
	if len(pts) > maxPoints {
		pts = reduce(pts)
	}
	var b strings.Builder
	for i, p := range pts {
		y := float64(sparkH) / 2
		if hi > lo {
			y = 2 + (sparkH-4)*(hi-p.v)/(hi-lo)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(p.x, 'f', 1, 64) + "," + strconv.FormatFloat(y, 'f', 1, 64))
	}
	c.Poly, c.Points = b.String(), len(pts)
	return c
}

// reduce keeps the lowest and the highest point of each of sparkW time
// slots, in time order.
func reduce(pts []point) []point {
	var out []point
	for i := 0; i < len(pts); {
		slot := int(pts[i].x)
		lo, hi := i, i
		j := i
		for ; j < len(pts) && int(pts[j].x) == slot; j++ {
			if pts[j].v < pts[lo].v {
				lo = j
			}
			if pts[j].v > pts[hi].v {
				hi = j
			}
		}
		out = append(out, pts[min(lo, hi)])
		if lo != hi {
			out = append(out, pts[max(lo, hi)])
		}
		i = j
	}
	return out
}

// num formats a value with up to 4 significant digits.
func num(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// tick is a labelled hour on a time axis.
type tick struct {
	X     float64
	Label string
}

// hourTicks returns a tick every 3 hours over the window ending at now.
func hourTicks(now time.Time) []tick {
	var out []tick
	start := now.Add(-window)
	for t := start.Truncate(3 * time.Hour).Add(3 * time.Hour); !t.After(now); t = t.Add(3 * time.Hour) {
		out = append(out, tick{X: xAt(t, now, axisW), Label: t.UTC().Format("15:04")})
	}
	return out
}

// timeline is the state changes of the window on a time axis, one row per
// state, worst at the top.
type timeline struct {
	Rows  []tick // Label: the state; X unused
	Ticks []tick
	Marks []timelineMark
	H     int
}

type timelineMark struct {
	X, Y  float64
	Class string
	Title string
}

// W returns the timeline's width.
func (timeline) W() int { return axisW }

func newTimeline(ts []store.Transition, now time.Time, withGateway bool) timeline {
	n := len(fleet.States)
	tl := timeline{Ticks: hourTicks(now), H: n*rowH + 14}
	for i := n - 1; i >= 0; i-- {
		tl.Rows = append(tl.Rows, tick{X: float64((n - 1 - i) * rowH), Label: string(fleet.States[i])})
	}
	for _, t := range ts {
		st := fleet.State(t.To)
		row := n - 1 - st.Severity()
		if st.Severity() < 0 {
			continue
		}
		title := fmt.Sprintf("%s: %s → %s: %s", t.Time.UTC().Format(time.RFC3339), orDash(t.From), t.To, t.Reason)
		if withGateway {
			title = t.Gateway + " " + title
		}
		tl.Marks = append(tl.Marks, timelineMark{X: xAt(t.Time, now, axisW), Y: float64(row * rowH), Class: stateClass(st), Title: title})
	}
	return tl
}

// gapAxis is the sequence gaps of the window on a time axis: each gap
// spans from when the ingest received the batch before it to when it
// received the batch after it (or, for a gap the gateway dropped, its gap
// record), as far as those are committed.
type gapAxis struct {
	Ticks   []tick
	Marks   []segment
	Earlier int // gaps that ended before the window
	Unknown int // gaps with no committed batch or gap record around them to place them by
}

// W returns the axis' width.
func (gapAxis) W() int { return axisW }

// segment is one missing range on the gap axis.
type segment struct {
	X, W     float64
	From, To uint64 // the missing sequence numbers
	Class    string
	Title    string
}

// gapSeqs returns the sequence numbers whose receive times place gaps: the
// batch before each, the batch after it, and its gap record.
func gapSeqs(gaps []store.MissingRange) []uint64 {
	var out []uint64
	for _, g := range gaps {
		out = append(out, g.From-1, g.To+1)
		if g.RecordSeq > 0 {
			out = append(out, g.RecordSeq)
		}
	}
	return out
}

// newGapAxis places gaps on the window ending at now by the receive times
// of the batches around them (received, by sequence number).
func newGapAxis(gaps []store.MissingRange, received map[uint64]time.Time, now time.Time) gapAxis {
	ax := gapAxis{Ticks: hourTicks(now)}
	for _, g := range gaps {
		start, end := received[g.From-1], received[g.To+1]
		if rec, ok := received[g.RecordSeq]; g.Cause == store.CauseGapRecord && ok && (end.IsZero() || rec.Before(end)) {
			end = rec
		}
		switch {
		case start.IsZero() && end.IsZero():
			ax.Unknown++
			continue
		case start.IsZero():
			start = end
		case end.IsZero():
			end = start
		}
		if end.Before(now.Add(-window)) {
			ax.Earlier++
			continue
		}
		x0, x1 := xAt(start, now, axisW), xAt(end, now, axisW)
		s := segment{X: x0, W: math.Max(2, x1-x0), From: g.From, To: g.To, Class: "lost",
			Title: fmt.Sprintf("%s: %d not received, between %s and %s", seqs(g), g.To-g.From+1, stamp(start), stamp(end))}
		if g.Cause == store.CauseGapRecord {
			s.Class = "dropped"
			s.Title = fmt.Sprintf("%s: dropped by the gateway (%s, gap record %d, %d readings), between %s and %s",
				seqs(g), g.Reason, g.RecordSeq, g.Readings, stamp(start), stamp(end))
		}
		if x0+s.W > axisW {
			s.X = axisW - s.W
		}
		ax.Marks = append(ax.Marks, s)
	}
	return ax
}

func seqs(g store.MissingRange) string {
	if g.From == g.To {
		return fmt.Sprintf("seq %d", g.From)
	}
	return fmt.Sprintf("seq %d..%d", g.From, g.To)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// stateClass is the CSS class of a state's colour.
func stateClass(s fleet.State) string { return "s-" + strings.ToLower(string(s)) }
