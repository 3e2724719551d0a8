package fleetweb_test

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/fleetweb"
)

// chromium returns the path of Debian's chromium; without it the test is
// skipped, or fails under CI.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found: apt-get install chromium (scripts/deps.sh installs it)")
	}
	t.Skip("chromium not found: apt-get install chromium")
	return ""
}

// artifacts returns where the screenshots go: $EDGEGW_ARTIFACTS, kept, or a
// temp dir.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("EDGEGW_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	must.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// TestIntegrationBrowser: in a real headless Chromium, the overview of a
// simulated fleet of 50 gateways served on loopback shows the right count
// for each state and colours every box of the grid by its state, a box page
// draws the sparkline with one point per reading and its gap where the
// time axis places it, and neither page fetches
// anything from elsewhere. A screenshot of each is written.
func TestIntegrationBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test skipped with -short")
	}
	exe := chromium(t)
	out := artifacts(t)
	profile := t.TempDir()
	sf := newSimFleet(t)
	srv, err := fleetweb.Listen(fleetweb.Config{Listen: "127.0.0.1:0"}, fleetweb.Deps{Fleet: sf.fleet})
	must.NoError(t, err)
	serveCtx, stopServe := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx) }()
	defer func() {
		stopServe()
		must.NoError(t, <-served)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(exe),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	var mu sync.Mutex
	var requests []string
	must.NoError(t, chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}))
	_, err = chromedp.Call(bctx, network.Enable, network.EnableParams{})
	must.NoError(t, err)

	// The overview: the counts, and the colour of every box of the grid.
	must.NoError(t, chromedp.Do(bctx, chromedp.Navigate(srv.URL()), chromedp.WaitVisible(chromedp.CSS("#counts"))))
	counts, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]int](
		`Object.fromEntries([...document.querySelectorAll('#counts a')].map(a => [a.dataset.state, +a.querySelector('b').textContent]))`))
	must.NoError(t, err)
	colours, err := chromedp.Run(bctx, chromedp.Evaluate[map[string][]string](`(() => {
		const m = {};
		for (const a of document.querySelectorAll('.grid a')) {
			const r = a.getBoundingClientRect();
			if (r.width < 8 || r.height < 8) continue;
			(m[a.dataset.state] ??= []).push(getComputedStyle(a).backgroundColor);
		}
		return m;
	})()`))
	must.NoError(t, err)
	overviewPNG, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	must.NoError(t, err)
	for _, st := range fleet.States {
		if counts[string(st)] != simCounts[st] {
			t.Errorf("the overview shows %d %s, want %d", counts[string(st)], st, simCounts[st])
		}
	}
	seen := map[string]string{} // colour -> state
	boxes := 0
	for state, cs := range colours {
		boxes += len(cs)
		if len(cs) != simCounts[fleet.State(state)] {
			t.Errorf("the grid shows %d %s boxes, want %d", len(cs), state, simCounts[fleet.State(state)])
		}
		for _, c := range cs {
			if c != cs[0] {
				t.Errorf("%s boxes in two colours: %s and %s", state, cs[0], c)
			}
		}
		if other, dup := seen[cs[0]]; dup {
			t.Errorf("%s and %s boxes share the colour %s", state, other, cs[0])
		}
		seen[cs[0]] = state
	}
	if boxes != len(sf.states) {
		t.Errorf("the grid shows %d boxes, want %d", boxes, len(sf.states))
	}

	// A box page: the pm25 sparkline has one point per reading with a value.
	must.NoError(t, chromedp.Do(bctx, chromedp.Navigate(srv.URL()+"box/"+chartGateway), chromedp.WaitVisible(chromedp.CSS(`svg.spark[data-channel="pm25"]`))))
	points, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelector('svg.spark[data-channel="pm25"] polyline').points.numberOfItems`))
	must.NoError(t, err)
	width, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`document.querySelector('svg.spark[data-channel="pm25"]').getBoundingClientRect().width`))
	must.NoError(t, err)
	state, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#state")))
	must.NoError(t, err)
	// Its gap on the time axis: seq 2..3 dropped between 6 h and 5 h ago,
	// drawn where the 24-hour axis puts them (3/4 to 19/24 of its width).
	gaps, err := chromedp.Run(bctx, chromedp.Evaluate[[]map[string]float64](`(() => {
		const svg = document.querySelector('svg.gaps'), axis = svg.querySelector('rect').getBoundingClientRect();
		return [...svg.querySelectorAll('rect.dropped, rect.lost')].map(r => {
			const b = r.getBoundingClientRect();
			return {from: +r.dataset.from, to: +r.dataset.to, dropped: r.classList.contains('dropped') ? 1 : 0,
				start: (b.left - axis.left) / axis.width, end: (b.right - axis.left) / axis.width, height: b.height};
		});
	})()`))
	must.NoError(t, err)
	boxPNG, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	must.NoError(t, err)
	if points != chartPoints {
		t.Errorf("the pm25 sparkline has %d points, want %d", points, chartPoints)
	}
	if width < 100 {
		t.Errorf("the pm25 sparkline is %.0f px wide", width)
	}
	if state != "OK" {
		t.Errorf("the box page shows state %q, want OK", state)
	}
	if len(gaps) != 1 {
		t.Errorf("the gap axis shows %d gaps, want 1: %v", len(gaps), gaps)
	} else if g := gaps[0]; g["from"] != 2 || g["to"] != 3 || g["dropped"] != 1 || g["height"] < 4 ||
		math.Abs(g["start"]-18.0/24) > 0.01 || math.Abs(g["end"]-19.0/24) > 0.01 {
		t.Errorf("the gap axis shows %v, want seq 2..3 dropped from 0.75 to 0.79 of the axis", g)
	}

	for name, png := range map[string][]byte{"fleet-overview.png": overviewPNG, "fleet-box.png": boxPNG} {
		if len(png) < 1000 || !strings.HasPrefix(string(png), "\x89PNG") {
			t.Errorf("%s: %d bytes, not a PNG", name, len(png))
			continue
		}
		p := filepath.Join(out, name)
		must.NoError(t, os.WriteFile(p, png, 0o644))
		t.Logf("screenshot: %s", p)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, u := range requests {
		if !strings.HasPrefix(u, srv.URL()) {
			t.Errorf("the page fetched %s, not from the ingest", u)
		}
	}
	if len(requests) < 2 {
		t.Errorf("saw %d requests, want at least the two pages", len(requests))
	}
}
