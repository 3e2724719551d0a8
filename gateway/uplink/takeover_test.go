package uplink

import (
	"strings"
	"testing"
	"time"
)

// TestTakeoverPattern: three short sessions in a row, each closed by the
// broker and reconnected at once, are the pattern; a long session, a
// reconnection that needed retries (a broker restarting) or a session
// ended by a failed publish break it.
func TestTakeoverPattern(t *testing.T) {
	short, long := 2*time.Second, 2*takeoverWindow
	type session struct {
		d            time.Duration
		lost, atOnce bool
	}
	cases := []struct {
		name     string
		sessions []session
		want     []bool // found, after each session
		suspect  bool   // at the end
	}{
		{"clone", []session{{short, true, true}, {short, true, true}, {short, true, true}, {short, true, true}},
			[]bool{false, false, true, false}, true},
		{"long session ends it", []session{{short, true, true}, {short, true, true}, {short, true, true}, {long, true, true}},
			[]bool{false, false, true, false}, false},
		{"broker restarting", []session{{short, true, true}, {short, true, false}, {short, true, true}, {short, true, true}},
			[]bool{false, false, false, false}, false},
		{"publish failures", []session{{short, false, true}, {short, false, true}, {short, false, true}},
			[]bool{false, false, false}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tk takeover
			for i, s := range c.sessions {
				if got := tk.ended("gw-001", s.d, s.lost, s.atOnce); got != c.want[i] {
					t.Errorf("session %d: found %v, want %v", i, got, c.want[i])
				}
			}
			if (tk.suspect != "") != c.suspect {
				t.Errorf("suspect %q, want it set: %v", tk.suspect, c.suspect)
			}
			if c.suspect && !strings.Contains(tk.suspect, `client id "gw-001"`) {
				t.Errorf("suspect %q does not name the client id", tk.suspect)
			}
		})
	}
}
