package modbusmeter_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers/modbusmeter"
	"github.com/edgegw/edgegw/drivers/sim/meteremu"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/testclock"
)

func TestNewRawReadRejects(t *testing.T) {
	tests := []struct {
		name  string
		typ   modbusmeter.Type
		order modbusmeter.Order
		fc    uint8
		addr  uint16
		count int
		want  string // the error names the argument at fault
	}{
		{"unknown type", "float16", modbusmeter.ABCD, 4, 0, 0, `type "float16": want uint16,`},
		{"unknown order", modbusmeter.Float32, "XYZW", 4, 0, 0, `order "XYZW": want ABCD, CDAB, BADC or DCBA`},
		{"lower-case order", modbusmeter.Float32, "cdab", 4, 0, 0, `order "cdab"`},
		{"too many registers", modbusmeter.Uint16, modbusmeter.ABCD, 4, 0, 126, "count 126: want 1..125 registers within 0..0xFFFF"},
		{"negative count", modbusmeter.Uint16, modbusmeter.ABCD, 4, 0, -1, "count -1:"},
		{"past the last register", modbusmeter.Float32, modbusmeter.ABCD, 4, 0xFFFF, 0, "count 2: want 1..125 registers within 0..0xFFFF"},
		{"coil function", modbusmeter.Float32, modbusmeter.ABCD, 1, 0, 0, "fc 1: want 3 (holding) or 4 (input)"},
		{"count below one value", modbusmeter.Uint64, modbusmeter.ABCD, 3, 0, 3, "count 3 is too small for a uint64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := modbusmeter.NewRawRead(tt.typ, tt.order, tt.fc, tt.addr, tt.count)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewRawRead = %+v, %v; want an error containing %q", r, err, tt.want)
			}
		})
	}
}

func TestNewRawReadPoints(t *testing.T) {
	tests := []struct {
		name      string
		typ       modbusmeter.Type
		addr      uint16
		count     int
		wantCount int
		wantAddrs []uint16
	}{
		{"count 0 reads one value", modbusmeter.Float32, 0x46, 0, 2, []uint16{0x46}},
		{"whole values", modbusmeter.Uint32, 0x10, 6, 6, []uint16{0x10, 0x12, 0x14}},
		{"left-over register read, not decoded", modbusmeter.Float32, 0, 5, 5, []uint16{0, 2}},
		{"last register", modbusmeter.Uint16, 0xFFFF, 1, 1, []uint16{0xFFFF}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := modbusmeter.NewRawRead(tt.typ, modbusmeter.CDAB, modbusmeter.ReadHolding, tt.addr, tt.count)
			must.NoError(t, err)
			if r.FC != modbusmeter.ReadHolding || r.Addr != tt.addr || r.Count != tt.wantCount || len(r.Points) != len(tt.wantAddrs) {
				t.Fatalf("NewRawRead = fc %d addr %#x count %d with %d points; want fc 3 addr %#x count %d with %d",
					r.FC, r.Addr, r.Count, len(r.Points), tt.addr, tt.wantCount, len(tt.wantAddrs))
			}
			for i, pt := range r.Points {
				if pt.Addr != tt.wantAddrs[i] || pt.Type != tt.typ || pt.Order != modbusmeter.CDAB || pt.FC != modbusmeter.ReadHolding || pt.Scale != 1 {
					t.Errorf("point %d = %+v, want %s CDAB fc 3 at %#x scale 1", i, pt, tt.typ, tt.wantAddrs[i])
				}
			}
		})
	}
}

// TestRawRead reads a CDAB uint32 counter of the emulated test meter, whose
// value the test sets, in one request, and decodes it in the right and a
// wrong word order.
func TestRawRead(t *testing.T) {
	clk := testclock.New(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	emu, bus := memBus(t, meteremu.Config{Units: []meteremu.Unit{{ID: 7, Profile: "testdata/u32counter.yaml"}}, Now: clk.Now})
	emu.SetCounter(7, "e", 1234.567) // kWh, 1234567 Wh = 0x0012D687 in the register pair
	tests := []struct {
		order modbusmeter.Order
		want  float64
	}{
		{modbusmeter.CDAB, 1234567},
		{modbusmeter.ABCD, 0xD6870012},
	}
	for _, tt := range tests {
		t.Run(string(tt.order), func(t *testing.T) {
			r, err := modbusmeter.NewRawRead(modbusmeter.Uint32, tt.order, modbusmeter.ReadInput, 0x10, 3)
			must.NoError(t, err)
			before := emu.Requests(7)
			vs, err := r.Read(context.Background(), bus, 7)
			must.NoError(t, err)
			if n := emu.Requests(7) - before; n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			if len(vs) != 1 || vs[0].Addr != 0x10 || len(vs[0].Registers) != 2 || vs[0].Registers[0] != 0xD687 || vs[0].Registers[1] != 0x0012 || vs[0].Value != tt.want {
				t.Errorf("Read = %+v, want one value at 0x0010 with registers D687 0012 = %v", vs, tt.want)
			}
		})
	}
}

func TestRawReadException(t *testing.T) {
	_, bus := memBus(t, meteremu.Config{Units: []meteremu.Unit{{ID: 7, Profile: "testdata/u32counter.yaml"}}})
	// The test meter refuses reads through holding registers 1..3.
	r, err := modbusmeter.NewRawRead(modbusmeter.Uint16, modbusmeter.ABCD, modbusmeter.ReadHolding, 0, 5)
	must.NoError(t, err)
	_, err = r.Read(context.Background(), bus, 7)
	var ex *modbusmeter.ExceptionError
	if !errors.As(err, &ex) || !strings.Contains(err.Error(), "read unit 7 fc 3 0x0000+5 on mem:") {
		t.Errorf("Read = %v, want an exception naming unit, function, range and port", err)
	}
}
