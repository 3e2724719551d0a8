package fleetweb_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/fleetweb"
	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/internal/must"
)

// get requests path from h and returns the status and body.
func get(t *testing.T, h http.Handler, method, path string, header ...string) (*http.Response, string) {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// tileRE finds a state tile of the overview and its count.
var tileRE = regexp.MustCompile(`data-state="([A-Z-]+)"><b>(\d+)</b>`)

// cellRE finds a box of the overview's grid and its state.
var cellRE = regexp.MustCompile(`<a class="s-[a-z-]+" href="/box/([^"]+)" [^>]*data-state="([A-Z-]+)"></a>`)

func TestOverview(t *testing.T) {
	sf := newSimFleet(t)
	h := fleetweb.Handler(fleetweb.Deps{Fleet: sf.fleet})
	res, body := get(t, h, "GET", "/")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	got := map[fleet.State]int{}
	for _, m := range tileRE.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(m[2])
		got[fleet.State(m[1])] = n
	}
	if fmt.Sprint(got) != fmt.Sprint(simCounts) {
		t.Errorf("tiles %v, want %v", got, simCounts)
	}
	cells := cellRE.FindAllStringSubmatch(body, -1)
	if len(cells) != len(sf.states) {
		t.Errorf("grid has %d boxes, want %d", len(cells), len(sf.states))
	}
	for _, c := range cells {
		if want := sf.states[c[1]]; string(want) != c[2] {
			t.Errorf("grid box %s is %s, want %s", c[1], c[2], want)
		}
	}
	for _, g := range []string{"north", "south", "centre"} {
		if !strings.Contains(body, `<a href="/?group=`+g+`">`+g+`</a>`) {
			t.Errorf("no heading of group %s", g)
		}
	}
	// The worst table lists every box not OK, worst first, with its reason.
	worst := body[strings.Index(body, `<table id="worst">`):]
	worst = worst[:strings.Index(worst, "</table>")]
	if n := strings.Count(worst, "<tr><td>"); n != len(sf.states)-simCounts[fleet.OK] {
		t.Errorf("worst table has %d rows, want %d", n, len(sf.states)-simCounts[fleet.OK])
	}
	if i, j := strings.Index(worst, "OFFLINE"), strings.Index(worst, "DEGRADED"); i < 0 || j < i {
		t.Errorf("worst table does not list OFFLINE before DEGRADED")
	}
	if !strings.Contains(worst, "last will received 9m0s ago") || !strings.Contains(worst, "rolled-back") {
		t.Errorf("worst table lacks the reasons")
	}
	// The timeline has a mark per recorded change (one per gateway).
	if n := strings.Count(body, `width="3" height="10"><title>`); n != len(sf.states) {
		t.Errorf("timeline has %d marks, want %d", n, len(sf.states))
	}

	_, body = get(t, h, "GET", "/?state=offline&group=north")
	cells = cellRE.FindAllStringSubmatch(body, -1)
	if len(cells) == 0 {
		t.Fatal("no box shown for state OFFLINE in group north")
	}
	for _, c := range cells {
		if sf.states[c[1]] != fleet.Offline || !strings.HasPrefix(c[1], "north-") {
			t.Errorf("filtered page shows %s (%s)", c[1], c[2])
		}
	}
	if res, body := get(t, h, "GET", "/?state=bogus"); res.StatusCode != 400 || !strings.Contains(body, `state "bogus" is not one of`) {
		t.Errorf("bad state filter = %d %q", res.StatusCode, body)
	}
}

func TestBoxPage(t *testing.T) {
	sf := newSimFleet(t)
	h := fleetweb.Handler(fleetweb.Deps{Fleet: sf.fleet})
	res, body := get(t, h, "GET", "/box/"+chartGateway)
	if res.StatusCode != 200 {
		t.Fatalf("box page = %d\n%s", res.StatusCode, body)
	}
	for _, want := range []string{
		`data-device="aq-1" data-channel="pm25" data-readings="49" data-points="48"`,
		`data-device="aq-1" data-channel="co2" data-readings="48" data-points="48"`,
		`: read error</title>`, `id="state">OK</span>`, "committing: last batch 5s ago",
		"<tr><td>2..3</td><td>dropped by the gateway: max-bytes (gap record 4, 200 readings)</td></tr>",
		// 6 h to 5 h ago on the 1,000-wide axis of 24 h, after its 60-wide labels.
		`<rect class="dropped" x="810" y="4" width="41.66666666666663" height="12" data-from="2" data-to="3"><title>seq 2..3: dropped by the gateway (max-bytes, gap record 4, 200 readings), between 2026-12-01 06:00:00Z and 2026-12-01 07:00:00Z</title></rect>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("box page lacks %q", want)
		}
	}
	poly := regexp.MustCompile(`data-channel="pm25"[^>]*>\s*<line[^>]*/>\s*<polyline class="line" points="([^"]+)"`).FindStringSubmatch(body)
	if poly == nil || len(strings.Fields(poly[1])) != chartPoints {
		t.Errorf("pm25 polyline %v, want %d points", poly, chartPoints)
	}

	var gapGW, cfgGW string
	for gw, st := range sf.states {
		switch st {
		case fleet.DataGap:
			gapGW = gw
		case fleet.Config:
			cfgGW = gw
		}
	}
	_, body = get(t, h, "GET", "/box/"+gapGW)
	// Received 1 min and 5 s ago: the gap is the last 55 s of the axis, 2 wide at least.
	if !strings.Contains(body, "<tr><td>2..3</td><td>not received</td></tr>") ||
		!strings.Contains(body, `<rect class="lost" x="1058" y="4" width="2" height="12" data-from="2" data-to="3"><title>seq 2..3: 2 not received, between 2026-12-01 11:59:00Z and 2026-12-01 11:59:55Z</title>`) {
		t.Errorf("DATA-GAP box page does not show 2..3 missing of 4 in the last minute:\n%s", body[strings.Index(body, `<svg class="gaps"`):][:600])
	}
	_, body = get(t, h, "GET", "/box/"+cfgGW)
	if !strings.Contains(body, "<tr><td>4</td><td>rolled-back</td>") || !strings.Contains(body, "<li>configuration rolled-back (running version 4): probation: broker unreachable</li>") {
		t.Errorf("CONFIG box page lacks the configuration history or the reason")
	}
	if res, body := get(t, h, "GET", "/box/nobody"); res.StatusCode != 404 || !strings.Contains(body, "<code>nobody</code>") {
		t.Errorf("unknown gateway = %d", res.StatusCode)
	}
}

func TestReadOnly(t *testing.T) {
	sf := newSimFleet(t)
	h := fleetweb.Handler(fleetweb.Deps{Fleet: sf.fleet, Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "metric 1\n") })})
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		for _, path := range []string{"/", "/box/" + chartGateway, "/metrics", "/nowhere"} {
			res, _ := get(t, h, m, path)
			if res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s = %d, Allow %q; want 405, GET, HEAD", m, path, res.StatusCode, res.Header.Get("Allow"))
			}
		}
	}
	// HEAD answers like GET, without a body (the server drops it).
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, path := range []string{"/", "/box/" + chartGateway, "/metrics"} {
		res, err := http.Head(srv.URL + path)
		must.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || len(body) != 0 {
			t.Errorf("HEAD %s = %d with %d bytes", path, res.StatusCode, len(body))
		}
	}
	if res, _ := get(t, h, "GET", "/nowhere"); res.StatusCode != 404 {
		t.Errorf("GET /nowhere = %d", res.StatusCode)
	}
	if res, body := get(t, h, "GET", "/metrics"); res.StatusCode != 200 || body != "metric 1\n" {
		t.Errorf("GET /metrics = %d %q", res.StatusCode, body)
	}
	res, _ := get(t, h, "GET", "/")
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

func TestToken(t *testing.T) {
	sf := newSimFleet(t)
	tok := "0123456789abcdef0123"
	h := fleetweb.Handler(fleetweb.Deps{Fleet: sf.fleet, Token: []byte(tok), Metrics: http.NotFoundHandler()})
	for _, path := range []string{"/", "/box/" + chartGateway, "/metrics", "/nowhere"} {
		for _, auth := range []string{"", "Bearer ", "Bearer wrong", "bearer " + tok, "Basic " + tok, "Bearer " + tok + "x"} {
			res, _ := get(t, h, "GET", path, "Authorization", auth)
			if res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("GET %s with Authorization %q = %d, want 401 with WWW-Authenticate", path, auth, res.StatusCode)
			}
		}
	}
	if res, _ := get(t, h, "GET", "/", "Authorization", "Bearer "+tok); res.StatusCode != 200 {
		t.Errorf("GET / with the token = %d", res.StatusCode)
	}
	if res, _ := get(t, h, "POST", "/", "Authorization", "Bearer "+tok); res.StatusCode != 405 {
		t.Errorf("POST / with the token = %d, want 405", res.StatusCode)
	}
}

// TestEscaping: gateway ids are whatever a topic level held; the pages
// escape them in text, attributes and links, and a box page is reachable by
// its escaped link.
func TestEscaping(t *testing.T) {
	sf := newSimFleet(t)
	ctx := context.Background()
	evil := []string{`<script>alert(1)</script>`, `a"b'c&d`, `x/y?z#w%`, `javascript:alert(1)`}
	for _, gw := range evil {
		body := fmt.Sprintf(`{"gateway":%q,"version":"<b>1</b>","devices":{"<i>dev</i>":{"polls":1}}}`, gw)
		must.NoError(t, sf.fleet.Store.RecordDocs(ctx, []store.Doc{{Gateway: gw, Kind: store.DocHealth, Received: now.Add(-time.Second), Body: []byte(body)}}, 10))
	}
	if _, _, err := sf.fleet.Record(ctx); err != nil { // as the ingest does every fleet interval
		t.Fatal(err)
	}
	h := fleetweb.Handler(fleetweb.Deps{Fleet: sf.fleet})
	_, page := get(t, h, "GET", "/")
	for _, raw := range []string{`<script>`, `a"b`, `href="javascript:`} {
		if strings.Contains(page, raw) {
			t.Errorf("overview holds %q unescaped", raw)
		}
	}
	for _, gw := range evil {
		link := "/box/" + url.PathEscape(gw)
		if !strings.Contains(html.UnescapeString(page), `href="`+link+`"`) {
			t.Errorf("overview has no link %s for %q", link, gw)
			continue
		}
		res, box := get(t, h, "GET", link)
		if res.StatusCode != 200 {
			t.Errorf("GET %s = %d", link, res.StatusCode)
		}
		for _, raw := range []string{`<script>`, `<b>1</b>`, `<i>dev</i>`, `a"b`} {
			if strings.Contains(box, raw) {
				t.Errorf("box page of %q holds %q unescaped", gw, raw)
			}
		}
	}
	if _, box := get(t, h, "GET", "/box/"+url.PathEscape(evil[0])); !strings.Contains(box, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("box page does not show the id escaped")
	}
	if res, body := get(t, h, "GET", "/box/"+url.PathEscape("<img src=x>")); res.StatusCode != 404 || strings.Contains(body, "<img") {
		t.Errorf("unknown gateway page = %d, holding the id unescaped: %v", res.StatusCode, strings.Contains(body, "<img"))
	}
}
