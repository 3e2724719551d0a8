package fleetweb

import (
	"bytes"
	"cmp"
	"embed"
	"errors"
	"html"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/store"
)

// Limits of what a page lists.
const (
	worstN      = 50   // rows of the worst-boxes table
	changesN    = 50   // rows of the state changes table
	timelineMax = 5000 // state changes drawn on the overview's timeline
)

//go:embed templates/*.html
var templateFS embed.FS

var tmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"stamp":  stamp,
	"class":  stateClass,
	"boxURL": boxURL,
	"add":    func(a, b int) int { return a + b },
	"addf":   func(a, b float64) float64 { return a + b },
}).ParseFS(templateFS, "templates/*.html"))

// pages renders the overview and the box pages.
type pages struct {
	fleet *fleet.Fleet
	log   *slog.Logger
}

// stateCount is one state's tile of the overview.
type stateCount struct {
	State fleet.State
	N     int
}

// group is one group of the overview's grid.
type group struct {
	Name  string
	Boxes []fleet.Box // by gateway
	NotOK int
	Cells template.HTML // the grid's squares, one per box
}

// cells renders the squares of a group's grid. It writes the markup in Go,
// escaping every value itself, because html/template's escapers cost more
// than a second for 10,000 boxes.
func cells(boxes []fleet.Box) template.HTML {
	var b strings.Builder
	for _, x := range boxes {
		st := html.EscapeString(string(x.State))
		gw := html.EscapeString(x.Gateway)
		b.WriteString(`<a class="` + html.EscapeString(stateClass(x.State)) + `" href="` + html.EscapeString(boxURL(x.Gateway)) +
			`" title="` + gw + `: ` + st + ` — ` + html.EscapeString(x.Reason) + `" aria-label="` + gw + ` ` + st + `" data-state="` + st + `"></a>`)
	}
	return template.HTML(b.String())
}

// change is a row of a state changes table.
type change struct {
	store.Transition
	From, To fleet.State
}

// overviewPage is what the overview shows.
type overviewPage struct {
	Time      time.Time
	Total     int
	Filter    fleet.Filter
	Counts    []stateCount // worst first
	Groups    []group
	Worst     []fleet.Box
	WorstMore int // boxes not OK beyond the table
	Timeline  timeline
	Changes   []change
}

func (p *pages) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var f fleet.Filter
	if s := r.URL.Query().Get("state"); s != "" {
		st, err := fleet.ParseState(s)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.State = st
	}
	f.Group = r.URL.Query().Get("group")
	// The ingest records the states every fleet interval: the page shows
	// that evaluation while it is fresh (the page says its time).
	sum, err := p.fleet.Recent(ctx, 2*p.fleet.Thresholds.Interval)
	if err != nil {
		p.fail(w, "fleet status", err)
		return
	}
	sum = f.Apply(sum)
	ts, err := p.fleet.Store.Transitions(ctx, "", sum.Time.Add(-window), timelineMax)
	if err != nil {
		p.fail(w, "fleet transitions", err)
		return
	}
	pg := overviewPage{Time: sum.Time, Total: len(sum.Boxes), Filter: f, Timeline: newTimeline(ts, sum.Time, true)}
	for i := len(fleet.States) - 1; i >= 0; i-- {
		pg.Counts = append(pg.Counts, stateCount{fleet.States[i], sum.Counts[fleet.States[i]]})
	}
	byGroup := map[string]*group{}
	for _, b := range sum.Boxes {
		g := byGroup[b.Group]
		if g == nil {
			g = &group{Name: b.Group}
			byGroup[b.Group] = g
		}
		g.Boxes = append(g.Boxes, b)
		if b.State != fleet.OK {
			g.NotOK++
			if len(pg.Worst) < worstN {
				pg.Worst = append(pg.Worst, b)
			} else {
				pg.WorstMore++
			}
		}
	}
	for _, g := range byGroup {
		slices.SortFunc(g.Boxes, func(a, b fleet.Box) int { return cmp.Compare(a.Gateway, b.Gateway) })
		g.Cells = cells(g.Boxes)
		pg.Groups = append(pg.Groups, *g)
	}
	slices.SortFunc(pg.Groups, func(a, b group) int { return cmp.Compare(a.Name, b.Name) })
	pg.Changes = changes(ts, changesN, func(t store.Transition) bool {
		return (f.Group == "" || p.fleet.Thresholds.Group(t.Gateway) == f.Group) && (f.State == "" || fleet.State(t.To) == f.State)
	})
	p.render(w, http.StatusOK, "overview.html", pg)
}

// changes returns up to n of ts that keep selects.
func changes(ts []store.Transition, n int, keep func(store.Transition) bool) []change {
	var out []change
	for _, t := range ts {
		if len(out) == n {
			break
		}
		if keep(t) {
			out = append(out, change{Transition: t, From: fleet.State(t.From), To: fleet.State(t.To)})
		}
	}
	return out
}

// device is one device of a box page.
type device struct {
	Name   string
	Health *fleet.HealthDevice // nil when the health document does not list it
	Charts []chart
}

// boxPage is what a box page shows.
type boxPage struct {
	Time     time.Time
	Box      fleet.Box
	Reasons  []string
	Devices  []device
	LastSeq  uint64
	Gaps     gapAxis
	GapList  []store.MissingRange
	Config   []fleet.ConfigStatus
	Versions []fleet.VersionSeen
	Timeline timeline
	Changes  []change
}

func (p *pages) box(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	gw := r.PathValue("gateway")
	d, err := p.fleet.Show(ctx, gw)
	if errors.Is(err, fleet.ErrUnknownGateway) {
		p.render(w, http.StatusNotFound, "unknown.html", gw)
		return
	}
	if err != nil {
		p.fail(w, "fleet show", err)
		return
	}
	now := p.fleet.Now()
	rs, err := p.fleet.Store.Series(ctx, gw, now.Add(-window))
	if err != nil {
		p.fail(w, "readings", err)
		return
	}
	acts, err := p.fleet.Store.Activity(ctx, gw)
	if err != nil {
		p.fail(w, "activity", err)
		return
	}
	pg := boxPage{Time: now, Box: d.Box, Reasons: strings.Split(d.Box.Reason, "; "), GapList: d.Gaps, Config: d.Config,
		Versions: d.Versions, Timeline: newTimeline(d.Transitions, now, false), Changes: changes(d.Transitions, changesN, func(store.Transition) bool { return true })}
	if len(acts) == 1 {
		pg.LastSeq = acts[0].LastSeq
	}
	at, err := p.fleet.Store.Received(ctx, gw, gapSeqs(d.Gaps))
	if err != nil {
		p.fail(w, "batch times", err)
		return
	}
	pg.Gaps = newGapAxis(d.Gaps, at, now)
	byName := map[string]*device{}
	get := func(name string) *device {
		if byName[name] == nil {
			byName[name] = &device{Name: name}
		}
		return byName[name]
	}
	for name, h := range d.Devices {
		get(name).Health = &h
	}
	for _, c := range charts(rs, now) {
		dv := get(c.Device)
		dv.Charts = append(dv.Charts, c)
	}
	for _, dv := range byName {
		pg.Devices = append(pg.Devices, *dv)
	}
	slices.SortFunc(pg.Devices, func(a, b device) int { return cmp.Compare(a.Name, b.Name) })
	p.render(w, http.StatusOK, "box.html", pg)
}

// render writes a page with status, or a 500 when the template fails.
func (p *pages) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		p.fail(w, "render "+name, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers 500 and logs why.
func (p *pages) fail(w http.ResponseWriter, what string, err error) {
	p.log.Warn("fleet page failed", "what", what, "err", err)
	http.Error(w, what+" failed: see the ingest's log", http.StatusInternalServerError)
}

// boxURL is the path of a gateway's page.
func boxURL(gateway string) string { return "/box/" + url.PathEscape(gateway) }

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
