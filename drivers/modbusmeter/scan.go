package modbusmeter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrScanConfig marks a scan whose settings are not valid (a parity or baud
// rate the line cannot take): nothing was probed.
var ErrScanConfig = errors.New("invalid scan settings")

// ScanConfig is what Scan probes: every unit at every baud rate and parity.
type ScanConfig struct {
	Units    []uint8
	Bauds    []int
	Parities []string // "N", "E", "O"
	StopBits int
	Timeout  time.Duration // reply timeout of each probe
	// Profile, when set, makes each probe read a quantity with a known
	// range (frequency, voltage) and report the word orders that give a
	// plausible value.
	Profile *Profile
	// Progress, when set, is called before each probe.
	Progress func(ScanProgress)
}

// ScanProgress is where a scan stands before a probe.
type ScanProgress struct {
	Line        LineConfig
	Unit        uint8
	Done, Total int           // probes made before this one, and planned
	Found       int           // units found so far
	Left        time.Duration // estimated time left; negative before the first probe ends
}

// Found is a unit that answered a scan probe.
type Found struct {
	Unit    uint8
	Line    LineConfig
	Reply   string   // "data", or the exception the unit answered
	Orders  []string // with a profile: each plausible word order with the value it gives, or "none plausible"
	Latency time.Duration
}

// Scan probes every unit of c at every baud rate and parity on the serial
// port at path. It returns the units that answered, in the order found, and
// the number of probes made; on an error (the port missing, an I/O error,
// ctx ended) it returns what it found so far with the error.
func Scan(ctx context.Context, path string, c ScanConfig) ([]Found, int, error) {
	var lines []LineConfig
	for _, baud := range c.Bauds {
		for _, par := range c.Parities {
			// A short quiet time after silence: a scan mostly meets silence.
			line := LineConfig{Baud: baud, Parity: strings.ToUpper(par), StopBits: c.StopBits, Timeout: c.Timeout, Quiet: 20 * time.Millisecond}
			if err := line.normalise(); err != nil {
				return nil, 0, fmt.Errorf("%w: %w", ErrScanConfig, err)
			}
			lines = append(lines, line)
		}
	}
	var found []Found
	total, n := len(c.Units)*len(lines), 0
	start := time.Now()
	for _, line := range lines {
		bus, err := OpenBus(path, line)
		if err != nil {
			return found, n, err
		}
		if err := bus.Connect(); err != nil {
			bus.Close()
			return found, n, err
		}
		for _, id := range c.Units {
			if err := ctx.Err(); err != nil {
				bus.Close()
				return found, n, err
			}
			if c.Progress != nil {
				left := time.Duration(-1)
				if n > 0 {
					left = time.Since(start) / time.Duration(n) * time.Duration(total-n)
				}
				c.Progress(ScanProgress{Line: bus.Line(), Unit: id, Done: n, Total: total, Found: len(found), Left: left})
			}
			n++
			f, err := probe(ctx, bus, id, c.Profile)
			if err != nil {
				bus.Close()
				return found, n, err
			}
			if f != nil {
				found = append(found, *f)
			}
		}
		if err := bus.Close(); err != nil {
			return found, n, err
		}
	}
	return found, n, nil
}

// probe asks unit id for one value (with a profile, a quantity with a
// known range, to tell the word order). It returns nil when nobody
// answered, and an error only when the scan cannot go on.
func probe(ctx context.Context, bus *Bus, id uint8, p *Profile) (*Found, error) {
	fc, addr, cnt := ReadInput, uint16(0), uint16(1)
	pt, lo, hi, havePt := Point{}, 0.0, 0.0, false
	if p != nil {
		pt, lo, hi, havePt = plausible(p)
		fc, addr, cnt = p.Points[0].FC, p.Points[0].Addr, 1
		if havePt {
			fc, addr, cnt = pt.FC, pt.Addr, uint16(pt.Type.Words())
		}
	}
	start := time.Now()
	regs, err := bus.ReadRegisters(ctx, id, fc, addr, cnt)
	f := &Found{Unit: id, Line: bus.Line(), Latency: time.Since(start)}
	var ex *ExceptionError
	switch {
	case err == nil:
		f.Reply = "data"
	case errors.As(err, &ex):
		f.Reply = ex.Error()
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrCRC), errors.Is(err, ErrFrame):
		return nil, nil // silence, noise: nobody at this setting
	default:
		return nil, err
	}
	if err == nil && havePt {
		f.Orders = PlausibleOrders(pt, regs, lo, hi)
	}
	return f, nil
}

// PlausibleOrders decodes regs, read for point pt, in every word order and
// returns those whose value lies in lo..hi, each with the value it gives,
// or "none plausible".
func PlausibleOrders(pt Point, regs []uint16, lo, hi float64) []string {
	var out []string
	for _, o := range Orders {
		q := pt
		q.Order = o
		if v, _ := q.Decode(regs); v >= lo && v <= hi {
			out = append(out, fmt.Sprintf("%s (%s=%.4g %s)", o, pt.Name, v, pt.Unit))
		}
	}
	if len(out) == 0 {
		out = []string{"none plausible"}
	}
	return out
}

// plausible returns a point of p with a commissioning range that tells
// word orders apart (frequency 45..65 Hz, else voltage 90..500 V), and
// that range.
func plausible(p *Profile) (Point, float64, float64, bool) {
	for _, want := range []struct {
		unit   string
		lo, hi float64
	}{{"Hz", 45, 65}, {"V", 90, 500}} {
		for _, pt := range p.Points {
			if string(pt.Unit) == want.unit && pt.Type.Words() > 1 {
				return pt, want.lo, want.hi, true
			}
		}
	}
	return Point{}, 0, 0, false
}

// ParseUnits parses a list of unit ids and ranges such as "1-5,7,10-12",
// each within 1..247.
func ParseUnits(s string) ([]uint8, error) {
	var out []uint8
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 1 || b > 247 || a > b {
			return nil, fmt.Errorf("unit ids %q: want ids or ranges within 1..247, e.g. 1-10,20", s)
		}
		for u := a; u <= b; u++ {
			out = append(out, uint8(u))
		}
	}
	return out, nil
}
