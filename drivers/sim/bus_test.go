package sim_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/internal/must"

	"periph.io/x/conn/v3/i2c"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/sensirion"
	"github.com/edgegw/edgegw/drivers/sim/chips"
)

// serialNumbers asks the SCD41 on bus for its serial number n times and
// returns the outcome of each exchange: "ok", "nack" or "crc".
func serialNumbers(t *testing.T, bus i2c.Bus, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		r := make([]byte, 9)
		err := bus.Tx(0x62, sensirion.Command(0x3682), nil)
		if err == nil {
			err = bus.Tx(0x62, nil, r)
		}
		switch {
		case errors.Is(err, chips.ErrNACK):
			out[i] = "nack"
		case err != nil:
			t.Fatalf("exchange %d: %v", i, err)
		default:
			if _, err := sensirion.Words(r); err != nil {
				out[i] = "crc"
			} else {
				out[i] = "ok"
			}
		}
	}
	return out
}

// TestRandomI2CFaults: a bus named with faults fails about that share of
// transfers, as NACKs and CRC errors, and the same seed fails the same ones.
func TestRandomI2CFaults(t *testing.T) {
	open := func(name string) i2c.Bus {
		s := drivers.NewBusSet()
		t.Cleanup(func() { s.Close() })
		b, err := s.I2C(name)
		must.NoError(t, err)
		return b
	}
	const n = 2000
	first := serialNumbers(t, open("sim:i2c-1?faults=0.2&seed=7"), n)
	count := map[string]int{}
	for _, o := range first {
		count[o]++
	}
	// An exchange is two transfers, each failing with probability 0.2:
	// about a third of the exchanges fail, as NACKs or damaged CRCs.
	if failed := n - count["ok"]; failed < n/4 || failed > n/2 || count["nack"] == 0 || count["crc"] == 0 {
		t.Errorf("outcomes of %d exchanges at faults=0.2: %v", n, count)
	}
	if again := serialNumbers(t, open("sim:i2c-1?faults=0.2&seed=7"), n); !slices.Equal(first, again) {
		t.Error("the same seed gave other faults")
	}
	if clean := serialNumbers(t, open("sim:i2c-1"), 100); slices.Contains(clean, "nack") || slices.Contains(clean, "crc") {
		t.Errorf("a bus without faults failed: %v", clean)
	}
	for name, want := range map[string]string{
		"sim:i2c-1?faults=2":          "want a probability",
		"sim:i2c-1?faults=0.1&seed=x": "want an unsigned integer",
		"sim:i2c-1?rate=0.1":          `unknown parameter "rate"`,
	} {
		s := drivers.NewBusSet()
		if _, err := s.I2C(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
		s.Close()
	}
}
