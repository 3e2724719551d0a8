// Package doctor checks a junction box's setup and explains each finding
// with a pass, warn or fail line and a hint to fix it: configuration, key
// and certificate files, the clock, the broker from DNS to the TLS handshake
// with the gateway's own certificate, whether the running agent's batches
// are receipted by the backend (and the likely cause when they are not), the
// buses and ports of the configured devices, the devices themselves, disk
// space for the buffer, and that the agent listens on no network port. It
// works whether the agent runs or not.
package doctor

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/edgegw/edgegw/gateway/config"
)

// Status is the outcome of one check.
type Status string

// Outcomes, in order of severity.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Result is one line of the report.
type Result struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"` // what to do about a warn or fail
}

// Options configures Run.
type Options struct {
	Config  string           // configuration file
	Now     func() time.Time // clock; default time.Now
	Timeout time.Duration    // bound of each network or device check; default 5s
	// AgentPID is the running agent's process id. When it is 0, Run looks
	// for the agent of Config (FindAgent): the process holding the
	// configured control socket, or an `edgegw run` of the same file. When
	// no agent runs, the agent-specific checks are skipped.
	AgentPID int
	// Synced reports whether the kernel clock is synchronised.
	Synced func() bool
}

// Report writes results as aligned lines, the fix hint under each warn or
// fail, and returns the number of failures.
func Report(w io.Writer, results []Result) int {
	failed := 0
	for _, r := range results {
		fmt.Fprintf(w, "%-4s  %-22s %s\n", r.Status, r.Check, r.Detail)
		if r.Fix != "" && r.Status != Pass {
			fmt.Fprintf(w, "      %-22s fix: %s\n", "", r.Fix)
		}
		if r.Status == Fail {
			failed++
		}
	}
	return failed
}

// Run runs every check and returns the results in a fixed order.
func Run(ctx context.Context, o Options) []Result {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	c := &checker{o: o, ctx: ctx}
	c.config()
	if c.o.AgentPID == 0 {
		socket := ""
		if c.cfg != nil {
			socket = c.cfg.Control.Socket
		}
		c.o.AgentPID = FindAgent(o.Config, socket)
	}
	if c.cfg != nil {
		c.keys()
		c.certificates()
	}
	c.clock()
	if c.cfg != nil {
		c.broker()
		c.receipts()
		c.buses()
		c.devices()
		c.disk()
	}
	c.listening()
	return c.results
}

// checker accumulates results; later checks use what earlier ones loaded.
type checker struct {
	o       Options
	ctx     context.Context
	cfg     *config.Config
	certCN  string // the client certificate's common name, once loaded
	results []Result
}

func (c *checker) add(check string, s Status, detail, fix string) {
	c.results = append(c.results, Result{Check: check, Status: s, Detail: detail, Fix: fix})
}

// joinNames joins names for a detail line.
func joinNames(names []string) string { return strings.Join(names, ", ") }
