package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/edgegw/edgegw/backend/store"
)

// Filter selects boxes of a Summary; zero fields select all.
type Filter struct {
	State State
	Group string
}

// Apply returns sum with only the boxes f selects; the counts are those of
// the selected boxes.
func (f Filter) Apply(sum Summary) Summary {
	if f.State == "" && f.Group == "" {
		return sum
	}
	out := newSummary(sum.Time)
	for _, b := range sum.Boxes {
		if (f.State != "" && b.State != f.State) || (f.Group != "" && b.Group != f.Group) {
			continue
		}
		out.add(b)
	}
	return out
}

// WriteStatus writes a summary: one JSON object, or the counts by state,
// version and configuration version, then the boxes worst first with their
// reason.
func WriteStatus(out io.Writer, sum Summary, asJSON bool) error {
	if asJSON {
		if sum.Boxes == nil {
			sum.Boxes = []Box{}
		}
		return json.NewEncoder(out).Encode(sum)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%d gateways at %s\n", len(sum.Boxes), sum.Time.UTC().Format(time.RFC3339))
	for i := len(States) - 1; i >= 0; i-- {
		fmt.Fprintf(tw, "%s\t%d\n", States[i], sum.Counts[States[i]])
	}
	fmt.Fprintln(tw)
	for _, v := range sortedKeys(sum.Versions) {
		fmt.Fprintf(tw, "version %s\t%d\n", v, sum.Versions[v])
	}
	cvs := make([]uint64, 0, len(sum.ConfigVersions))
	for v := range sum.ConfigVersions {
		cvs = append(cvs, v)
	}
	slices.Sort(cvs)
	for _, v := range cvs {
		fmt.Fprintf(tw, "config version %d\t%d\n", v, sum.ConfigVersions[v])
	}
	if len(sum.Boxes) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "GATEWAY\tGROUP\tSTATE\tSINCE\tREASON")
		for _, b := range sum.Boxes {
			since := "-"
			if !b.Since.IsZero() {
				since = b.Since.UTC().Format(time.RFC3339)
			}
			reason := b.Reason
			if b.Flapping {
				reason = fmt.Sprintf("flapping (%d changes, alerts suppressed); %s", b.Changes, reason)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Gateway, b.Group, b.State, since, reason)
		}
	}
	return tw.Flush()
}

// Detail is one gateway in depth: `edgegw fleet show` and the box page.
type Detail struct {
	Box          Box                     `json:"box"`
	Devices      map[string]HealthDevice `json:"devices"`
	Gaps         []store.MissingRange    `json:"gaps"`
	Config       []ConfigStatus          `json:"config_history"` // configuration status documents kept, oldest first
	Versions     []VersionSeen           `json:"version_history"`
	LastReadings []store.LatestReading   `json:"last_readings"`
	Transitions  []store.Transition      `json:"transitions"` // newest first
}

// VersionSeen is a binary and configuration version a gateway reported, from
// the first health document that did.
type VersionSeen struct {
	Time          time.Time `json:"time"`
	Version       string    `json:"version"`
	ConfigVersion uint64    `json:"config_version"`
}

// ErrUnknownGateway is returned by Show for a gateway the database knows
// nothing of.
var ErrUnknownGateway = errors.New("unknown gateway")

// Show returns one gateway's state and details.
func (f *Fleet) Show(ctx context.Context, gateway string) (Detail, error) {
	sum, ins, err := f.status(ctx, gateway)
	if err != nil {
		return Detail{}, err
	}
	if len(sum.Boxes) == 0 {
		return Detail{}, fmt.Errorf("fleet show %s: %w", gateway, ErrUnknownGateway)
	}
	in := ins[0]
	d := Detail{Box: sum.Boxes[0], Devices: map[string]HealthDevice{}, LastReadings: in.Latest}
	for i := len(in.Health) - 1; i >= 0; i-- {
		if in.Health[i].Health.State != "offline" {
			d.Devices = in.Health[i].Health.Devices
			break
		}
	}
	if d.Gaps, err = f.Store.Missing(ctx, gateway); err != nil {
		return d, err
	}
	hist, err := f.Store.DocHistory(ctx, gateway, store.DocHealth, time.Time{})
	if err != nil {
		return d, err
	}
	for _, doc := range hist {
		s, err := parseHealth(doc)
		if err != nil || s.Health.State == "offline" {
			continue
		}
		if n := len(d.Versions); n == 0 || d.Versions[n-1].Version != s.Health.Version || d.Versions[n-1].ConfigVersion != s.Health.ConfigVersion {
			d.Versions = append(d.Versions, VersionSeen{Time: s.At, Version: s.Health.Version, ConfigVersion: s.Health.ConfigVersion})
		}
	}
	chist, err := f.Store.DocHistory(ctx, gateway, store.DocConfigStatus, time.Time{})
	if err != nil {
		return d, err
	}
	for _, doc := range chist {
		var cs ConfigStatus
		if json.Unmarshal(doc.Body, &cs) == nil {
			d.Config = append(d.Config, cs)
		}
	}
	if d.Transitions, err = f.Store.Transitions(ctx, gateway, time.Time{}, 50); err != nil {
		return d, err
	}
	return d, nil
}

// WriteDetail writes one gateway's details as JSON or as text.
func WriteDetail(out io.Writer, d Detail, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(out).Encode(d)
	}
	b := d.Box
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s (group %s): %s\n", b.Gateway, b.Group, b.State)
	fmt.Fprintf(tw, "reason\t%s\n", b.Reason)
	fmt.Fprintf(tw, "version\t%s, config version %d\n", orDash(b.Version), b.ConfigVersion)
	fmt.Fprintf(tw, "last batch committed\t%s\n", stamp(b.LastCommitted))
	fmt.Fprintf(tw, "last health\t%s\n", stamp(b.LastHealth))
	fmt.Fprintln(tw, "\nDEVICE\tPOLLS\tERRORS\tLAST OK\tLAST ERROR")
	for _, name := range sortedKeys(d.Devices) {
		dv := d.Devices[name]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", name, dv.Polls, dv.Errors, stamp(dv.LastOK), orDash(dv.LastError))
	}
	fmt.Fprintln(tw, "\nDEVICE\tCHANNEL\tLAST READING\tTIME\tFLAGS")
	for _, l := range d.LastReadings {
		v := "read error"
		if l.Value != nil {
			v = strconv.FormatFloat(*l.Value, 'g', 6, 64) + " " + l.Unit
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Device, l.Channel, v, stamp(l.Time), orDash(flagNames(l.Flags)))
	}
	fmt.Fprintln(tw, "\nGAP\tCAUSE")
	for _, g := range d.Gaps {
		cause := "not received"
		if g.Cause == store.CauseGapRecord {
			cause = "gap record: " + g.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\n", seqRange(g), cause)
	}
	fmt.Fprintln(tw, "\nCONFIG\tSTATE\tTIME\tREASON")
	for _, c := range d.Config {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", c.Version, c.State, stamp(c.Time), orDash(c.Reason))
	}
	fmt.Fprintln(tw, "\nSEEN\tVERSION\tCONFIG VERSION")
	for _, v := range d.Versions {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", stamp(v.Time), orDash(v.Version), v.ConfigVersion)
	}
	fmt.Fprintln(tw, "\nCHANGED\tFROM\tTO\tALERT\tREASON")
	for _, t := range d.Transitions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", stamp(t.Time), orDash(t.From), t.To, t.Alert, t.Reason)
	}
	return tw.Flush()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
