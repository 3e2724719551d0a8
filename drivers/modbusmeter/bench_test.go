package modbusmeter_test

import (
	"context"
	"testing"

	"github.com/edgegw/edgegw/drivers/modbusmeter"
	"github.com/edgegw/edgegw/drivers/sim/meteremu"
	"github.com/edgegw/edgegw/internal/must"
)

// wireMS converts line characters to milliseconds at 9600 baud 8N1 (10
// bits per character).
func wireMS(chars int) float64 { return float64(chars) * 10 / 9600 * 1000 }

// BenchmarkPoll measures the CPU of one full poll (planning excluded):
// goburrow's RTU encoding, CRC and decoding, register and value decoding,
// against the in-memory emulator (whose own CPU is included). Per poll it
// reports the transactions the emulator received (req/poll, which must be
// the meter's plan) and the plan's 9600 8N1 wire time (wire-ms/poll), and
// for comparison: the best plan the register map allows, reading through
// any hole (req/poll-min, wire-ms/poll-min), one request per value
// (-each), and the layout-free lower bound of MinChars (wire-ms/poll-bound).
func BenchmarkPoll(b *testing.B) {
	for _, name := range []string{"sdm630", "sdm120", "pm5300", "mfm383a"} {
		b.Run(name, func(b *testing.B) {
			emu, err := meteremu.New(meteremu.Config{Units: []meteremu.Unit{{ID: 1, Profile: name}}})
			must.NoError(b, err)
			bus, err := modbusmeter.OpenBus("mem:bench-"+name, modbusmeter.LineConfig{Transporter: emu})
			must.NoError(b, err)
			defer bus.Close()
			p, _ := modbusmeter.LoadProfile(name)
			m, err := modbusmeter.New(bus, &modbusmeter.Opts{Port: "mem", Unit: 1, Profile: p})
			must.NoError(b, err)
			ctx := context.Background()
			b.ReportAllocs()
			polls := 0
			for b.Loop() {
				if _, err := m.Read(ctx); err != nil {
					b.Fatal(err)
				}
				polls++
			}
			if got, want := emu.Requests(1), polls*len(m.Plan()); got != want {
				b.Fatalf("%d polls sent %d requests, the plan has %d per poll", polls, got, len(m.Plan()))
			}
			each := modbusmeter.PlanEach(p)
			best := modbusmeter.Plan(p, modbusmeter.MaxRegs, 0)
			b.ReportMetric(float64(emu.Requests(1))/float64(polls), "req/poll")
			b.ReportMetric(wireMS(modbusmeter.Chars(m.Plan(), 0)), "wire-ms/poll")
			b.ReportMetric(float64(len(best)), "req/poll-min")
			b.ReportMetric(wireMS(modbusmeter.Chars(best, 0)), "wire-ms/poll-min")
			b.ReportMetric(float64(len(each)), "req/poll-each")
			b.ReportMetric(wireMS(modbusmeter.Chars(each, 0)), "wire-ms/poll-each")
			b.ReportMetric(wireMS(modbusmeter.MinChars(p, 0)), "wire-ms/poll-bound")
		})
	}
}

// BenchmarkPlan measures planning a profile (done once per meter).
func BenchmarkPlan(b *testing.B) {
	p, _ := modbusmeter.LoadProfile("sdm630")
	for b.Loop() {
		modbusmeter.Plan(p, 8, 0)
	}
}
