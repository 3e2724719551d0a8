package demo

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/drivers/reading"
)

// column is one live value shown in the table: a device's channel.
type column struct{ device, channel, title string }

var columns = []column{
	{"aq-1", "t", "aq-1 temp"},
	{"co2-1", "co2", "co2-1 CO2"},
	{"pm-1", "pm25", "pm-1 PM2.5"},
	{"gas-1", "no2", "gas-1 NO2"},
	{"meter-1", "p", "meter-1 P"},
	{"meter-1", "e", "meter-1 energy"},
}

// table prints one compact row per second: what the devices produced, what
// the backend verified, opened and committed, the agent's buffer depth, and the latest
// verified value of a few channels.
type table struct {
	out   io.Writer
	start time.Time

	mu         sync.Mutex
	last       map[string]string
	readings   int
	duplicates int
	rejected   int
	header     bool
}

func newTable(out io.Writer) *table {
	return &table{out: out, start: time.Now(), last: map[string]string{}}
}

// received records what the backend opened from one envelope.
func (t *table) received(res backend.Result, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err != nil:
		t.rejected++
		fmt.Fprintf(t.out, "  rejected envelope: %v\n", err)
	case res.Duplicate:
		t.duplicates++
	default:
		t.readings += len(res.Readings)
		for _, r := range res.Records() {
			if r.Value != nil {
				t.last[r.Device+"/"+r.Channel] = reading.FormatValue(float64(*r.Value), reading.Unit(r.Unit))
			}
		}
	}
}

// tick prints one row.
func (t *table) tick(sent uint64, broker string, buffered int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.header {
		t.header = true
		h := fmt.Sprintf("%6s %-6s %6s %8s %4s %8s", "time", "broker", "sent", "stored", "dup", "buffered")
		for _, c := range columns {
			h += fmt.Sprintf(" %15s", c.title)
		}
		fmt.Fprintln(t.out, h)
	}
	row := fmt.Sprintf("%5.0fs %-6s %6d %8d %4d %8d", time.Since(t.start).Seconds(), broker, sent, t.readings, t.duplicates, buffered)
	for _, c := range columns {
		v := t.last[c.device+"/"+c.channel]
		if v == "" {
			v = "-"
		}
		row += fmt.Sprintf(" %15s", v)
	}
	fmt.Fprintln(t.out, row)
}

// note prints an event line between rows.
func (t *table) note(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.out, "  -- %s\n", s)
}
