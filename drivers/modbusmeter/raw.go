package modbusmeter

import (
	"context"
	"fmt"
	"slices"
)

// RawRead, made by NewRawRead, is a technician's read of registers without a profile: Count
// registers from Addr in one request with function FC, decoded as
// consecutive values of one type in one word order. Registers left over
// after the last whole value are read but not decoded.
type RawRead struct {
	FC     uint8   // ReadHolding or ReadInput
	Addr   uint16  // wire address of the first register, zero-based
	Count  int     // registers read
	Points []Point // the values decoded, one per Type.Words() registers
}

// RawValue is one decoded value of a RawRead.
type RawValue struct {
	Addr      uint16   // wire address of the value's first register
	Registers []uint16 // the value's registers, in wire order
	Value     float64  // the registers decoded with the read's type and word order
}

// NewRawRead checks a raw read of count registers from addr with function
// fc, decoded as values of type t in word order o, and returns it. A count
// of 0 reads one value. Each error names the argument at fault (type, order,
// count or fc) and what it may be.
func NewRawRead(t Type, o Order, fc uint8, addr uint16, count int) (*RawRead, error) {
	n := t.Words()
	if n == 0 {
		return nil, fmt.Errorf("type %q: want uint16, int16, uint32, int32, float32, uint64 or int64", t)
	}
	if !slices.Contains(Orders, o) {
		return nil, fmt.Errorf("order %q: want ABCD, CDAB, BADC or DCBA", o)
	}
	if count == 0 {
		count = n
	}
	if count < 1 || count > MaxRegs || int(addr)+count > 0x10000 {
		return nil, fmt.Errorf("count %d: want 1..%d registers within 0..0xFFFF", count, MaxRegs)
	}
	if fc != ReadHolding && fc != ReadInput {
		return nil, fmt.Errorf("fc %d: want 3 (holding) or 4 (input)", fc)
	}
	if count < n {
		return nil, fmt.Errorf("count %d is too small for a %s", count, t)
	}
	r := &RawRead{FC: fc, Addr: addr, Count: count}
	for i := 0; i+n <= count; i += n {
		a := int(addr) + i
		r.Points = append(r.Points, Point{
			Name: fmt.Sprintf("0x%04X", a), FC: fc, Addr: uint16(a), Type: t, Order: o, Scale: 1, Unit: "raw",
		})
	}
	return r, nil
}

// Read makes the read from unit on bus in one request and decodes its
// values.
func (r *RawRead) Read(ctx context.Context, bus *Bus, unit uint8) ([]RawValue, error) {
	regs, err := bus.ReadRegisters(ctx, unit, r.FC, r.Addr, uint16(r.Count))
	if err != nil {
		return nil, fmt.Errorf("read unit %d fc %d 0x%04X+%d on %s: %w", unit, r.FC, r.Addr, r.Count, bus.Path(), err)
	}
	out := make([]RawValue, 0, len(r.Points))
	for _, pt := range r.Points {
		off := int(pt.Addr - r.Addr)
		words := regs[off : off+pt.Type.Words()]
		v, err := pt.Decode(words)
		if err != nil {
			return nil, fmt.Errorf("decode 0x%04X: %w", pt.Addr, err)
		}
		out = append(out, RawValue{Addr: pt.Addr, Registers: words, Value: v})
	}
	return out, nil
}
