package sim_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/sim"
	"github.com/edgegw/edgegw/internal/must"
)

func newSim(t *testing.T, model string, opts map[string]any, now func() time.Time) drivers.Sensor {
	t.Helper()
	s, err := sim.New(drivers.Device{Name: "dev-1", Model: model, Options: opts}, drivers.Deps{Now: now})
	must.NoError(t, err)
	t.Cleanup(func() { s.Halt() })
	return s
}

func TestReadMatchesValue(t *testing.T) {
	for _, model := range sim.Models() {
		t.Run(model, func(t *testing.T) {
			at := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
			s := newSim(t, model, map[string]any{"seed": 7}, func() time.Time { return at })
			rs, err := s.Read(context.Background())
			must.NoError(t, err)
			chs := s.(drivers.Describer).Channels()
			if len(rs) != len(chs) || len(rs) == 0 {
				t.Fatalf("got %d readings for %d channels", len(rs), len(chs))
			}
			for i, r := range rs {
				want, ok := sim.Value(model, 7, "dev-1", r.Channel, r.Time)
				if !ok || r.Value != want {
					t.Errorf("%s = %v, Value() = %v, %v", r.Channel, r.Value, want, ok)
				}
				if r.Value != float64(float32(r.Value)) {
					t.Errorf("%s = %v is not float32-exact", r.Channel, r.Value)
				}
				if r.Channel != chs[i].Name || r.Unit != chs[i].Unit || r.Device != "dev-1" {
					t.Errorf("reading %d = %+v, want channel %+v", i, r, chs[i])
				}
				if r.Value < chs[i].Min || r.Value > chs[i].Max {
					t.Errorf("%s = %v outside its declared range", r.Channel, r.Value)
				}
				if !r.Time.Equal(at.Truncate(time.Millisecond)) {
					t.Errorf("time = %v, want %v", r.Time, at.Truncate(time.Millisecond))
				}
			}
		})
	}
}

func TestSeedsDiffer(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	a, _ := sim.Value("airquality", 1, "aq-1", "pm25", at)
	b, _ := sim.Value("airquality", 2, "aq-1", "pm25", at)
	if a == b {
		t.Errorf("seeds 1 and 2 give the same value %v", a)
	}
}

func TestEnergyCounterRises(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	prev, _ := sim.Value("meter3p", 1, "m", "e", at)
	for i := 1; i <= 10; i++ {
		v, _ := sim.Value("meter3p", 1, "m", "e", at.Add(time.Duration(i)*time.Hour))
		if v <= prev {
			t.Fatalf("energy after %dh = %v, not above %v", i, v, prev)
		}
		prev = v
	}
}

func TestFailEveryAndTrace(t *testing.T) {
	trace := filepath.Join(t.TempDir(), "trace")
	s := newSim(t, "meter3p", map[string]any{"fail_every": 3, "trace": trace}, time.Now)
	var fails int
	for range 6 {
		if _, err := s.Read(context.Background()); err != nil {
			fails++
			if !strings.Contains(err.Error(), "sim@dev-1") {
				t.Errorf("error %q does not name the device", err)
			}
		}
	}
	if fails != 2 {
		t.Errorf("%d of 6 polls failed, want 2", fails)
	}
	data, err := os.ReadFile(trace)
	must.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 4 || !strings.HasSuffix(lines[0], " 12") {
		t.Errorf("trace = %q, want 4 lines ending in 12", data)
	}
}

func TestBadOptions(t *testing.T) {
	tests := []struct {
		name  string
		model string
		opts  map[string]any
		want  string
	}{
		{"unknown model", "toaster", nil, `model: "toaster" is not a sim model`},
		{"unknown option", "", map[string]any{"speed": 1}, "options.speed: unknown option"},
		{"seed not integer", "", map[string]any{"seed": "x"}, "options.seed: x is not an integer"},
		{"negative fail_every", "", map[string]any{"fail_every": -1}, "options.fail_every: -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sim.New(drivers.Device{Name: "d", Model: tt.model, Options: tt.opts}, drivers.Deps{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
