package fleetweb_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/internal/must"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgegw/edgegw/backend/fleetweb"
)

// fetch requests path from srv with the Accept-Encoding header ae (none
// when empty), without the client's own decompression, and returns the
// response and its raw body.
func fetch(t *testing.T, srv *httptest.Server, method, path, ae string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	must.NoError(t, err)
	if ae != "" {
		req.Header.Set("Accept-Encoding", ae)
	}
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	res, err := c.Do(req)
	must.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	must.NoError(t, err)
	return res, body
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	must.NoError(t, err)
	out, err := io.ReadAll(zr)
	must.NoError(t, err)
	return out
}

// TestGzip: the pages and /metrics (a real Prometheus handler, which would
// compress by itself) are gzip-compressed once for a client that accepts
// it, and sent as they are to one that does not or refuses it with q=0.
func TestGzip(t *testing.T) {
	sf := newSimFleet(t)
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "edgegw_test_gauge", Help: "a gauge"})
	g.Set(42)
	reg.MustRegister(g)
	srv := httptest.NewServer(fleetweb.Handler(fleetweb.Deps{Fleet: sf.fleet, Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}))
	defer srv.Close()

	for _, path := range []string{"/", "/box/" + chartGateway, "/metrics"} {
		plainRes, plain := fetch(t, srv, "GET", path, "")
		if enc := plainRes.Header.Get("Content-Encoding"); enc != "" || plainRes.StatusCode != 200 {
			t.Errorf("GET %s without Accept-Encoding: %d, Content-Encoding %q", path, plainRes.StatusCode, enc)
		}
		for _, ae := range []string{"gzip", "br;q=1.0, gzip;q=0.8", "*"} {
			res, body := fetch(t, srv, "GET", path, ae)
			if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("GET %s, Accept-Encoding %q: %d, Content-Encoding %q, Vary %q", path, ae, res.StatusCode, res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
				continue
			}
			if res.Header.Get("Content-Type") != plainRes.Header.Get("Content-Type") {
				t.Errorf("GET %s: Content-Type %q compressed, %q not", path, res.Header.Get("Content-Type"), plainRes.Header.Get("Content-Type"))
			}
			if got := gunzip(t, body); !bytes.Equal(got, plain) {
				t.Errorf("GET %s, Accept-Encoding %q: %d bytes decompressed differ from the %d bytes sent uncompressed", path, ae, len(got), len(plain))
			}
			if path != "/metrics" && len(body)*2 > len(plain) {
				t.Errorf("GET %s: %d bytes compressed of %d", path, len(body), len(plain))
			}
			if ae == "gzip" {
				t.Logf("GET %s: %d bytes, %d gzip-compressed", path, len(plain), len(body))
			}
		}
		if path == "/metrics" && !strings.Contains(string(plain), "edgegw_test_gauge 42") {
			t.Errorf("/metrics lacks the gauge: %s", plain)
		}
		for _, ae := range []string{"gzip;q=0", "identity", "gzip;q=0, *"} {
			if res, _ := fetch(t, srv, "GET", path, ae); res.Header.Get("Content-Encoding") != "" {
				t.Errorf("GET %s, Accept-Encoding %q: Content-Encoding %q", path, ae, res.Header.Get("Content-Encoding"))
			}
		}
	}
	if res, body := fetch(t, srv, "HEAD", "/", "gzip"); res.Header.Get("Content-Encoding") != "" || len(body) != 0 {
		t.Errorf("HEAD /: Content-Encoding %q, %d bytes", res.Header.Get("Content-Encoding"), len(body))
	}
	// Refusals are compressed too, and keep their status.
	if res, body := fetch(t, srv, "POST", "/", "gzip"); res.StatusCode != 405 || !strings.Contains(string(gunzip(t, body)), "read-only") {
		t.Errorf("POST / = %d", res.StatusCode)
	}
}
