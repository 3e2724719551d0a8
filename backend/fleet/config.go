package fleet

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults of Thresholds, applied by Thresholds.Defaults to fields left at zero.
const (
	DefaultBatchDelay     = 10 * time.Second // the gateways' default uplink max_delay
	DefaultHealthInterval = 60 * time.Second // the gateways' default health_interval
	DefaultOfflineDelays  = 3
	DefaultStaleIntervals = 2
	DefaultReceiptLag     = 5 * time.Minute
	DefaultBacklogSamples = 3
	DefaultFlapWindow     = 30 * time.Minute
	DefaultFlapChanges    = 3
	DefaultHealthHistory  = 60
	DefaultInterval       = 10 * time.Second
)

// Thresholds are the thresholds of the fleet states: the `fleet:` block of the
// ingest configuration.
//
//	fleet:
//	  batch_delay: 10s       # the gateways' uplink.max_delay
//	  health_interval: 60s   # the gateways' uplink.health_interval
//	  offline_delays: 3      # OFFLINE/SILENT after this many batch delays without a commit
//	  stale_intervals: 2     # DEGRADED when a device has no good reading for this many of its intervals
//	  receipt_lag: 5m        # DATA-GAP when a batch waits this long for its receipt
//	  backlog_samples: 3     # BACKLOG when the buffer grew over this many health documents
//	  flap_window: 30m       # one alert per gateway within this window
//	  flap_changes: 3        # a gateway changing state this often within the window is flapping
//	  health_history: 60     # health documents kept per gateway
//	  interval: 10s          # how often the ingest evaluates and records the states
//	  groups:                # group -> gateway id prefixes; otherwise the id up to its last '-'
//	    north: [gw-n-]
type Thresholds struct {
	BatchDelay     time.Duration       `yaml:"batch_delay"`
	HealthInterval time.Duration       `yaml:"health_interval"`
	OfflineDelays  int                 `yaml:"offline_delays"`
	StaleIntervals int                 `yaml:"stale_intervals"`
	ReceiptLag     time.Duration       `yaml:"receipt_lag"`
	BacklogSamples int                 `yaml:"backlog_samples"`
	FlapWindow     time.Duration       `yaml:"flap_window"`
	FlapChanges    int                 `yaml:"flap_changes"`
	HealthHistory  int                 `yaml:"health_history"`
	Interval       time.Duration       `yaml:"interval"`
	Groups         map[string][]string `yaml:"groups"`
}

// Defaults sets the fields left at zero to their defaults.
func (c *Thresholds) Defaults() {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.BatchDelay, DefaultBatchDelay)
	def(&c.HealthInterval, DefaultHealthInterval)
	def(&c.ReceiptLag, DefaultReceiptLag)
	def(&c.FlapWindow, DefaultFlapWindow)
	def(&c.Interval, DefaultInterval)
	defInt(&c.OfflineDelays, DefaultOfflineDelays)
	defInt(&c.StaleIntervals, DefaultStaleIntervals)
	defInt(&c.BacklogSamples, DefaultBacklogSamples)
	defInt(&c.FlapChanges, DefaultFlapChanges)
	defInt(&c.HealthHistory, DefaultHealthHistory)
}

// Check returns an error naming each field out of range, as fleet.<field>.
func (c Thresholds) Check() error {
	var errs []error
	dur := func(name string, v, lo, hi time.Duration) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("fleet.%s: %v outside %v..%v", name, v, lo, hi))
		}
	}
	num := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("fleet.%s: %d outside %d..%d", name, v, lo, hi))
		}
	}
	dur("batch_delay", c.BatchDelay, time.Second, time.Hour)
	dur("health_interval", c.HealthInterval, time.Second, time.Hour)
	dur("receipt_lag", c.ReceiptLag, time.Second, 7*24*time.Hour)
	dur("flap_window", c.FlapWindow, time.Minute, 7*24*time.Hour)
	dur("interval", c.Interval, 100*time.Millisecond, time.Hour)
	num("offline_delays", c.OfflineDelays, 1, 1000)
	num("stale_intervals", c.StaleIntervals, 1, 1000)
	num("backlog_samples", c.BacklogSamples, 2, 100)
	num("flap_changes", c.FlapChanges, 2, 1000)
	num("health_history", c.HealthHistory, c.BacklogSamples, 100000)
	for g, prefixes := range c.Groups {
		if g == "" || len(prefixes) == 0 {
			errs = append(errs, fmt.Errorf("fleet.groups: group %q needs a name and at least one gateway id prefix", g))
		}
	}
	return errors.Join(errs...)
}

// Group returns the group of a gateway: the first group (in name order) one
// of whose prefixes the id starts with, else the id up to its last '-', else
// "other".
func (c Thresholds) Group(gateway string) string {
	best := ""
	for g, prefixes := range c.Groups {
		for _, p := range prefixes {
			if strings.HasPrefix(gateway, p) && (best == "" || g < best) {
				best = g
			}
		}
	}
	if best != "" {
		return best
	}
	if i := strings.LastIndexByte(gateway, '-'); i > 0 {
		return gateway[:i]
	}
	return "other"
}
