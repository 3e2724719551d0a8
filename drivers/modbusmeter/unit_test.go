package modbusmeter_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/spi"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/modbusmeter"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/sim/meteremu"
	"github.com/edgegw/edgegw/internal/testclock"
)

func TestDecodeWordOrders(t *testing.T) {
	// Vectors from shared/reference/meters.md (230.0 V = 0x43660000).
	tests := []struct {
		typ   modbusmeter.Type
		order modbusmeter.Order
		regs  []uint16
		want  float64
	}{
		{modbusmeter.Float32, modbusmeter.ABCD, []uint16{0x4366, 0x0000}, 230},
		{modbusmeter.Float32, modbusmeter.CDAB, []uint16{0x0000, 0x4366}, 230},
		{modbusmeter.Float32, modbusmeter.BADC, []uint16{0x6643, 0x0000}, 230},
		{modbusmeter.Float32, modbusmeter.DCBA, []uint16{0x0000, 0x6643}, 230},
		{modbusmeter.Float32, modbusmeter.ABCD, []uint16{0x4248, 0x0000}, 50},
		{modbusmeter.Float32, modbusmeter.ABCD, []uint16{0x449A, 0x5000}, 1234.5},
		{modbusmeter.Uint16, modbusmeter.ABCD, []uint16{0xFFFF}, 65535},
		{modbusmeter.Int16, modbusmeter.ABCD, []uint16{0xFFFE}, -2},
		{modbusmeter.Uint32, modbusmeter.ABCD, []uint16{0x0001, 0x0002}, 65538},
		{modbusmeter.Uint32, modbusmeter.CDAB, []uint16{0x0002, 0x0001}, 65538},
		{modbusmeter.Int32, modbusmeter.ABCD, []uint16{0xFFFF, 0xFFFF}, -1},
		{modbusmeter.Uint64, modbusmeter.ABCD, []uint16{0, 0, 1, 0}, 65536},
		{modbusmeter.Uint64, modbusmeter.CDAB, []uint16{0, 1, 0, 0}, 65536},
		{modbusmeter.Int64, modbusmeter.DCBA, []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, -1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%04X", tt.typ, tt.order, tt.regs), func(t *testing.T) {
			pt := modbusmeter.Point{Type: tt.typ, Order: tt.order, Scale: 1}
			got, err := pt.Decode(tt.regs)
			if err != nil || math.Abs(got-tt.want) > 1e-4 {
				t.Errorf("Decode = %v, %v; want %v", got, err, tt.want)
			}
			bits, _ := modbusmeter.Raw(tt.typ, tt.order, tt.regs)
			back, _ := modbusmeter.Encode(tt.typ, tt.order, bits)
			if fmt.Sprint(back) != fmt.Sprint(tt.regs) {
				t.Errorf("Encode(Raw) = %04X, want %04X", back, tt.regs)
			}
		})
	}
}

func TestShippedProfiles(t *testing.T) {
	ps, err := modbusmeter.Profiles()
	must.NoError(t, err)
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
		if p.Source == "" || p.Verified == "" {
			t.Errorf("%s: source and verified must be stated", p.Name)
		}
	}
	if got := strings.Join(names, " "); got != "mfm383a pm5300 sdm120 sdm630" {
		t.Errorf("profiles = %s", got)
	}
	if _, err := modbusmeter.LoadProfile("testdata/u32counter.yaml"); err != nil {
		t.Errorf("user profile: %v", err)
	}
	if _, err := modbusmeter.LoadProfile("nope"); err == nil || !strings.Contains(err.Error(), "sdm630") {
		t.Errorf("unknown profile error = %v", err)
	}
}

func TestParseProfileErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown field", "name: x\nfc: 4\ntype: float32\nbogus: 1\npoints: [{name: a, addr: 0, unit: V}]", "field bogus not found"},
		{"bad type", "name: x\nfc: 4\ntype: float16\npoints: [{name: a, addr: 0, unit: V}]", "points[0].type"},
		{"bad fc", "name: x\nfc: 5\ntype: float32\npoints: [{name: a, addr: 0, unit: V}]", "points[0].fc"},
		{"duplicate", "name: x\nfc: 4\ntype: float32\npoints: [{name: a, addr: 0, unit: V}, {name: a, addr: 2, unit: V}]", "used twice"},
		{"bad order", "name: x\nfc: 4\ntype: float32\norder: ACBD\npoints: [{name: a, addr: 0, unit: V}]", "points[0].order"},
		{"no unit", "name: x\nfc: 4\ntype: float32\npoints: [{name: a, addr: 0}]", "points[0].unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := modbusmeter.ParseProfile([]byte(tt.doc), "x.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// bruteForce returns the cheapest cost over every split of the sorted
// points into consecutive runs, with the same constraints as Plan.
func bruteForce(p *modbusmeter.Profile, gap int) int {
	plan := modbusmeter.Plan(p, 0, 0) // any plan, to get the sort order
	var idx []int
	for _, r := range plan {
		idx = append(idx, r.Points...)
	}
	// Plan(…, 0, 0) with no gap budget keeps sorted order across requests.
	best := math.MaxInt
	n := len(idx)
	for mask := 0; mask < 1<<(n-1); mask++ {
		cost, start, ok := 0, 0, true
		for i := 1; i <= n && ok; i++ {
			if i < n && mask&(1<<(i-1)) == 0 {
				continue
			}
			first := p.Points[idx[start]]
			end := int(first.Addr) + first.Type.Words()
			for k := start + 1; k < i; k++ {
				pt := p.Points[idx[k]]
				g := int(pt.Addr) - end
				if pt.FC != first.FC || g > gap || (g > 0 && blockedTest(p, pt.FC, end, int(pt.Addr)-1)) {
					ok = false
				}
				end = max(end, int(pt.Addr)+pt.Type.Words())
			}
			if end-int(first.Addr) > p.MaxRegs {
				ok = false
			}
			cost += 20 + 2*(end-int(first.Addr))
			start = i
		}
		if ok && cost < best {
			best = cost
		}
	}
	return best
}

func blockedTest(p *modbusmeter.Profile, fc uint8, from, to int) bool {
	for _, s := range p.NoSpan {
		if s.FC == fc && int(s.From) <= to && from <= int(s.To) {
			return true
		}
	}
	return false
}

func TestPlanMinimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []modbusmeter.Type{modbusmeter.Uint16, modbusmeter.Float32, modbusmeter.Uint64}
	for c := range 200 {
		p := &modbusmeter.Profile{Name: "r", MaxRegs: 4 + rng.IntN(40)}
		addr := 0
		n := 1 + rng.IntN(12)
		for i := range n {
			typ := types[rng.IntN(3)]
			fc := modbusmeter.ReadInput
			if i > n/2 && rng.IntN(3) == 0 {
				fc = modbusmeter.ReadHolding
			}
			addr += typ.Words() + rng.IntN(15)*rng.IntN(2)
			p.Points = append(p.Points, modbusmeter.Point{Name: fmt.Sprint(i), FC: fc, Addr: uint16(addr), Type: typ, Order: "ABCD", Scale: 1})
		}
		if rng.IntN(3) == 0 {
			p.NoSpan = []modbusmeter.Span{{FC: modbusmeter.ReadInput, From: uint16(addr / 2), To: uint16(addr/2 + 1)}}
		}
		gap := rng.IntN(12)
		plan := modbusmeter.Plan(p, gap, 0)
		if got, want := modbusmeter.Chars(plan, 0), bruteForce(p, gap); got != want {
			t.Fatalf("case %d: plan costs %d chars, brute force finds %d: %+v", c, got, want, plan)
		}
		checkPlan(t, p, plan, gap)
	}
}

// checkPlan verifies that every point is read exactly once, within limits.
func checkPlan(t *testing.T, p *modbusmeter.Profile, plan []modbusmeter.Request, gap int) {
	t.Helper()
	seen := map[int]bool{}
	for _, r := range plan {
		if r.Count < 1 || int(r.Count) > p.MaxRegs {
			t.Errorf("request %+v reads %d registers (max %d)", r, r.Count, p.MaxRegs)
		}
		for _, i := range r.Points {
			pt := p.Points[i]
			if seen[i] || pt.FC != r.FC || pt.Addr < r.Addr || int(pt.Addr)+pt.Type.Words() > int(r.Addr)+int(r.Count) {
				t.Errorf("point %s badly placed in %+v", pt.Name, r)
			}
			seen[i] = true
		}
	}
	if len(seen) != len(p.Points) {
		t.Errorf("plan covers %d of %d points", len(seen), len(p.Points))
	}
}

func TestPlanShippedProfiles(t *testing.T) {
	// Requests per poll and wire characters (20 per request + 2 per
	// register) against the theoretical minimum, at the default gap budget.
	tests := []struct {
		name     string
		requests int
	}{
		{"sdm630", 5},
		{"sdm120", 3},
		{"pm5300", 4},
		{"mfm383a", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := modbusmeter.LoadProfile(tt.name)
			must.NoError(t, err)
			plan := modbusmeter.Plan(p, 8, 0)
			checkPlan(t, p, plan, 8)
			if len(plan) != tt.requests {
				t.Errorf("%d requests, want %d: %+v", len(plan), tt.requests, plan)
			}
			got := modbusmeter.Chars(plan, 0)
			opt := modbusmeter.Chars(modbusmeter.Plan(p, modbusmeter.MaxRegs, 0), 0)
			bound := modbusmeter.MinChars(p, 0)
			each := modbusmeter.Chars(modbusmeter.PlanEach(p), 0)
			t.Logf("%s: %d requests, %d chars (%.1f ms at 9600 8N1); optimum over any gap %d chars; layout-free bound %d chars; one per value %d requests, %d chars",
				tt.name, len(plan), got, float64(got)*10/9.6, opt, bound, len(p.Points), each)
			if float64(got) > 1.10*float64(opt) {
				t.Errorf("plan %d chars is more than 10%% above the optimum %d", got, opt)
			}
			if got < bound {
				t.Errorf("plan %d chars beats the lower bound %d: cost model broken", got, bound)
			}
		})
	}
}

// memBus is an in-memory bus: the real goburrow RTU packager with the
// emulator as transporter.
func memBus(t *testing.T, cfg meteremu.Config) (*meteremu.Emulator, *modbusmeter.Bus) {
	t.Helper()
	emu, err := meteremu.New(cfg)
	must.NoError(t, err)
	b, err := modbusmeter.OpenBus("mem:"+t.Name(), modbusmeter.LineConfig{Transporter: emu})
	must.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return emu, b
}

func TestCounterRollover(t *testing.T) {
	clk := testclock.New(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	emu, bus := memBus(t, meteremu.Config{Units: []meteremu.Unit{{ID: 7, Profile: "testdata/u32counter.yaml"}}, Now: clk.Now, Rate: 3600})
	m := newMeter(t, bus, 7, "testdata/u32counter.yaml", clk.Now)
	top := float64(1<<32) * 0.001 // kWh at which the Wh register wraps
	emu.SetCounter(7, "e", top-0.5)
	var prev float64
	for i := range 4 {
		rs, err := m.Read(context.Background())
		must.NoError(t, err)
		e := byChannel(rs)["e"]
		if e.Flags != 0 || (i > 0 && e.Value <= prev) {
			t.Fatalf("poll %d: e = %v (flags %v) after %v", i, e.Value, e.Flags, prev)
		}
		if v := byChannel(rs)["v"].Value; v < 200 || v > 260 {
			t.Errorf("v = %v", v)
		}
		prev = e.Value
		clk.Advance(300 * time.Millisecond) // +0.3 kWh at 3600 kWh/h
	}
	if s := m.Stats(); s.Rollovers != 1 || s.CounterBacks != 0 {
		t.Errorf("stats = %+v, want one rollover", s)
	}
	if prev < top {
		t.Errorf("e = %v did not pass the wrap point %v", prev, top)
	}
	// A real reset is not a rollover.
	emu.SetCounter(7, "e", 0)
	rs, _ := m.Read(context.Background())
	if e := byChannel(rs)["e"]; e.Flags&reading.CounterWentBack == 0 || math.Abs(e.Value) > 0.01 {
		t.Errorf("after reset e = %+v, want 0 flagged counter-went-back", e)
	}
}

func TestBackoff(t *testing.T) {
	clk := testclock.New(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	emu, bus := memBus(t, meteremu.Config{Units: []meteremu.Unit{{ID: 1, Profile: "sdm120"}}, Now: clk.Now})
	p, _ := modbusmeter.LoadProfile("sdm120")
	m, err := modbusmeter.New(bus, &modbusmeter.Opts{Port: "p", Unit: 1, Profile: p, Now: clk.Now, Backoff: time.Second, BackoffMax: 4 * time.Second})
	must.NoError(t, err)
	emu.SetFault(1, meteremu.Fault{Dead: true})
	// Failures 1, 2, 3, … back off 0, 1s, 2s, 4s, 4s.
	var sent []int
	for range 16 {
		before := emu.Requests(1)
		_, err := m.Read(context.Background())
		if err == nil {
			t.Fatal("dead meter read")
		}
		sent = append(sent, emu.Requests(1)-before)
		clk.Advance(500 * time.Millisecond)
	}
	want := "[2 2 0 2 0 0 0 2 0 0 0 0 0 0 0 2]"
	if got := fmt.Sprint(sent); got != want {
		t.Errorf("requests per poll = %s, want %s", got, want)
	}
	emu.SetFault(1, meteremu.Fault{})
	for i := 0; ; i++ {
		if _, err := m.Read(context.Background()); err == nil {
			break
		} else if !errors.Is(err, modbusmeter.ErrBackoff) || i > 8 {
			t.Fatalf("did not come back: %v", err)
		}
		clk.Advance(500 * time.Millisecond)
	}
	if s := m.Stats(); s.Failures != 0 || !s.BackoffUntil.IsZero() {
		t.Errorf("stats after recovery = %+v", s)
	}
}

func TestExceptionNotRetried(t *testing.T) {
	emu, bus := memBus(t, meteremu.DefaultConfig())
	m := newMeter(t, bus, 1, "sdm630", time.Now)
	emu.SetFault(1, meteremu.Fault{Exception: 2})
	_, err := m.Read(context.Background())
	var ex *modbusmeter.ExceptionError
	if !errors.As(err, &ex) || ex.Exception != 2 || emu.Requests(1) != 1 {
		t.Errorf("err = %v after %d requests, want one illegal-address exception", err, emu.Requests(1))
	}
}

// fakeBuses maps every serial port name to one path.
type fakeBuses struct{ path string }

func (fakeBuses) I2C(string) (i2c.Bus, error)     { return nil, errors.New("no i2c") }
func (fakeBuses) SPI(string) (spi.Port, error)    { return nil, errors.New("no spi") }
func (b fakeBuses) Serial(string) (string, error) { return b.path, nil }

func TestFactoryOptions(t *testing.T) {
	f, ok := drivers.Lookup("modbusmeter")
	if !ok {
		t.Fatal("modbusmeter not registered")
	}
	ok1 := map[string]any{"port": "sim:rs485-1", "unit": 1, "profile": "sdm630"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range ok1 {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name string
		opts map[string]any
		want string
	}{
		{"missing all", map[string]any{}, "options.port: missing"},
		{"unit 0", with("unit", 0), "options.unit: 0 outside 1..247"},
		{"unit 248", with("unit", 248), "options.unit"},
		{"parity", with("parity", "X"), "options.parity"},
		{"baud", with("baud", 7), "options.baud"},
		{"baud as a string", with("baud", "9600"), "options.baud: 9600 is not an integer"},
		{"fractional baud", with("baud", 9600.5), "options.baud: 9600.5 is not an integer"},
		{"timeout out of range", with("timeout", "5ms"), "options.timeout: 5ms outside 10ms..10s"},
		{"timeout in seconds", with("timeout", 2), "options.timeout: 2 is not a duration such as 500ms"},
		{"stop bits", with("stop_bits", 3), "options.stop_bits"},
		{"profile", with("profile", "sdm999"), "options.profile"},
		{"timeout", with("timeout", "5"), "options.timeout"},
		{"retries", with("retries", 9), "options.retries"},
		{"gap budget", with("gap_budget", 500), "options.gap_budget"},
		{"backoff", with("backoff_max", "10ms"), "options.backoff_max"},
		{"unknown", with("slave", 1), "options.slave: unknown option"},
		{"ok", with("parity", "e"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := f(drivers.Device{Name: "m1", Options: tt.opts}, drivers.Deps{Now: time.Now, Buses: fakeBuses{"/dev/null-" + tt.name}})
			if tt.want == "" {
				must.NoError(t, err)
				if s.String() != "modbusmeter@sim:rs485-1:1" {
					t.Errorf("String() = %s", s)
				}
				if err := s.Halt(); err != nil {
					t.Error(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSharedPort(t *testing.T) {
	a, err := modbusmeter.OpenBus("/dev/shared-test", modbusmeter.LineConfig{Baud: 9600})
	must.NoError(t, err)
	b, err := modbusmeter.OpenBus("/dev/shared-test", modbusmeter.LineConfig{Baud: 9600, Parity: "N"})
	if err != nil || a != b {
		t.Fatalf("second open = %p, %v; want the same bus %p", b, err, a)
	}
	if _, err := modbusmeter.OpenBus("/dev/shared-test", modbusmeter.LineConfig{Baud: 19200}); err == nil || !strings.Contains(err.Error(), "already open at 9600 8N1") {
		t.Errorf("conflicting setting: %v", err)
	}
	a.Close()
	b.Close()
	c, _ := modbusmeter.OpenBus("/dev/shared-test", modbusmeter.LineConfig{Baud: 19200})
	defer c.Close()
	if c == a {
		t.Error("bus not released after the last Close")
	}
	if _, err := a.ReadRegisters(context.Background(), 1, 4, 0, 2); !errors.Is(err, modbusmeter.ErrClosed) {
		t.Errorf("read on closed bus: %v", err)
	}
}
