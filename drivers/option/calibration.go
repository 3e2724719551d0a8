package option

import "github.com/edgegw/edgegw/drivers/reading"

// Calibration is the two-point linear calibration of an electrochemical gas
// sensor's voltage to a concentration: ppb = (V − Zero) · SpanPPB / (Span − Zero).
type Calibration struct {
	Zero, Span, SpanPPB float64 // volts at zero gas, volts at the span gas, the span gas in ppb
}

// PPB converts v volts.
func (c Calibration) PPB(v float64) float64 { return (v - c.Zero) * c.SpanPPB / (c.Span - c.Zero) }

// Calibration reads the options zero, span and span_ppb; it returns nil when
// zero is not set (readings stay in volts).
func (o *Set) Calibration() *Calibration {
	if _, ok := o.Get("zero"); !ok {
		return nil
	}
	cal := &Calibration{Zero: o.Number("zero", 0), Span: o.Number("span", 0), SpanPPB: o.Number("span_ppb", 0)}
	if cal.Span == cal.Zero || cal.SpanPPB == 0 {
		o.Fail("span", "calibration needs span ≠ zero and span_ppb ≠ 0")
	}
	return cal
}

// Channel declares an ADC input: volts within [lo, hi], or ppb within their
// calibrated image when cal is set; min and max, when either is non-zero,
// are the configured physical range instead.
func (cal *Calibration) Channel(name string, lo, hi, min, max float64, stuckAfter int) reading.Channel {
	c := reading.Channel{Name: name, Unit: reading.Volt, Min: lo, Max: hi, StuckAfter: stuckAfter}
	if cal != nil {
		c.Unit = reading.PPB
		c.Min, c.Max = cal.PPB(lo), cal.PPB(hi)
		if c.Min > c.Max {
			c.Min, c.Max = c.Max, c.Min
		}
	}
	if min != 0 || max != 0 {
		c.Min, c.Max = min, max
	}
	return c
}
