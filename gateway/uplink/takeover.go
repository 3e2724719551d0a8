package uplink

import (
	"fmt"
	"time"
)

// Two agents with one client id (a cloned SD card, or a second box given
// the same identity) take the broker session from each other: the broker
// closes the older connection when the other connects, so each session
// ends soon after it starts, and the next connection succeeds at once
// because the broker is up. A broker that restarts refuses connections for
// a while, which breaks the pattern.
const (
	takeoverWindow   = 30 * time.Second // a session the broker ends within this is short
	takeoverSessions = 3                // short sessions in a row, each reconnected at once
)

// takeover tells the session takeover pattern.
type takeover struct {
	short   int    // short sessions in a row, each reconnected at the first attempt
	suspect string // the explanation while the pattern holds; empty otherwise
}

// ended records a session of client id that lasted d and ended with lost
// (the broker closed it) and that was made at the first attempt after the
// previous session (atOnce). It returns true when the pattern has just been
// found.
func (t *takeover) ended(id string, d time.Duration, lost, atOnce bool) bool {
	if !lost || !atOnce || d >= takeoverWindow {
		t.short, t.suspect = 0, ""
		return false
	}
	t.short++
	if t.short < takeoverSessions || t.suspect != "" {
		return false
	}
	t.suspect = fmt.Sprintf("the broker closed %d sessions in a row within %s of connecting, and each reconnection succeeded at once: "+
		"another client is probably connected with client id %q (a cloned SD card, or a second box with this identity); "+
		"give each box its own identity (edgegw keys init) and certificate", t.short, takeoverWindow, id)
	return true
}
