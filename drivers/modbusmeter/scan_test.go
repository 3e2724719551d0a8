package modbusmeter_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers/modbusmeter"
	"github.com/edgegw/edgegw/drivers/sim/meteremu"
	"github.com/edgegw/edgegw/internal/must"
)

func TestParseUnits(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []uint8
	}{
		{"1", []uint8{1}},
		{"1-3,7, 9-10", []uint8{1, 2, 3, 7, 9, 10}},
		{"247", []uint8{247}},
	} {
		got, err := modbusmeter.ParseUnits(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ParseUnits(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "0", "248", "5-3", "1-x", "a", "1,,2"} {
		if got, err := modbusmeter.ParseUnits(bad); err == nil || !strings.Contains(err.Error(), "1..247") {
			t.Errorf("ParseUnits(%q) = %v, %v; want an error naming 1..247", bad, got, err)
		}
	}
}

// TestIntegrationScan: on an emulated line at 9600 8N1 with an SDM630 at
// unit 1 (its words swapped) and an SDM120 at unit 2, a scan of units 1-4
// at two baud rates finds exactly those two at 9600, tells unit 1's word
// order from its frequency, and reports its progress.
func TestIntegrationScan(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	emu, err := meteremu.Start(meteremu.Config{
		Units: []meteremu.Unit{{ID: 1, Profile: "sdm630", Order: modbusmeter.CDAB}, {ID: 2, Profile: "sdm120"}},
		Baud:  9600, Parity: "N", StopBits: 1,
	})
	must.NoError(t, err)
	defer emu.Close()
	p, err := modbusmeter.LoadProfile("sdm630")
	must.NoError(t, err)
	var progress []modbusmeter.ScanProgress
	found, probes, err := modbusmeter.Scan(context.Background(), emu.Path(), modbusmeter.ScanConfig{
		Units: []uint8{1, 2, 3, 4}, Bauds: []int{19200, 9600}, Parities: []string{"n"}, StopBits: 1,
		Timeout: 100 * time.Millisecond, Profile: p,
		Progress: func(sp modbusmeter.ScanProgress) { progress = append(progress, sp) },
	})
	if err != nil || probes != 8 {
		t.Fatalf("Scan = %d probes, %v; want 8, nil", probes, err)
	}
	if len(found) != 2 || found[0].Unit != 1 || found[1].Unit != 2 {
		t.Fatalf("found %+v, want units 1 and 2", found)
	}
	for _, f := range found {
		if f.Line.Baud != 9600 || f.Line.Parity != "N" || f.Reply != "data" {
			t.Errorf("unit %d found at %s replying %q, want 9600 8N1 and data", f.Unit, f.Line, f.Reply)
		}
	}
	if o := found[0].Orders; len(o) != 1 || !strings.HasPrefix(o[0], string(modbusmeter.CDAB)+" (") {
		t.Errorf("unit 1 word orders %q, want only %s", o, modbusmeter.CDAB)
	}
	if len(progress) != 8 || progress[0].Left >= 0 || progress[7].Done != 7 || progress[7].Total != 8 || progress[7].Found != 2 || progress[7].Left < 0 {
		t.Errorf("progress %+v ... %+v, want 8 calls, the time left known after the first", progress[0], progress[len(progress)-1])
	}
}

// TestIntegrationScanStops: bad settings probe nothing; an ended context
// stops the scan with what it found so far.
func TestIntegrationScanStops(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	emu, err := meteremu.Start(meteremu.DefaultConfig())
	must.NoError(t, err)
	defer emu.Close()
	if _, n, err := modbusmeter.Scan(context.Background(), emu.Path(), modbusmeter.ScanConfig{Units: []uint8{1}, Bauds: []int{9600}, Parities: []string{"X"}}); !errors.Is(err, modbusmeter.ErrScanConfig) || n != 0 {
		t.Errorf("parity X: %d probes, %v; want none and ErrScanConfig", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	found, n, err := modbusmeter.Scan(ctx, emu.Path(), modbusmeter.ScanConfig{
		Units: []uint8{1, 2, 3, 4, 5}, Bauds: []int{9600}, Parities: []string{"N"}, StopBits: 1, Timeout: 100 * time.Millisecond,
		Progress: func(sp modbusmeter.ScanProgress) {
			if sp.Unit == 3 {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) || len(found) != 2 || n != 3 {
		t.Errorf("cancelled at unit 3: found %d in %d probes, %v; want 2 in 3 and context.Canceled", len(found), n, err)
	}
}
