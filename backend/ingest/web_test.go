package ingest_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/edgegw/edgegw/backend/fleetweb"
	"github.com/edgegw/edgegw/backend/ingest"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// scrape reads the service's /metrics.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(base + "metrics")
	must.NoError(t, err)
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(res.Body)
	must.NoError(t, err)
	return mfs
}

// value returns the value of the sample of family name whose labels
// include want (name=value pairs), and whether there is one.
func value(mfs map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == want[i] && l.GetValue() == want[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestIntegrationIngestWebAndMetrics: with http.listen on loopback the
// running ingest serves the fleet page and /metrics; a scrape shows the
// committed readings and batches, the rejects by reason, the receipt lag of
// each receipted batch, and the gateways by state.
func TestIntegrationIngestWebAndMetrics(t *testing.T) {
	w := newWorld(t, "sqlite:"+filepath.Join(t.TempDir(), "ingest.db"))
	w.cfg.HTTP = fleetweb.Config{Listen: "127.0.0.1:0"}
	w.cfg.Fleet.Interval = 100 * time.Millisecond
	svc, _ := w.start(t)
	base := svc.WebURL()
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("WebURL = %q", base)
	}
	g := w.gateway(t)
	for seq := uint64(1); seq <= 3; seq++ {
		g.publish(t, data, w.gw.Batch(seq, 4))
	}
	g.publish(t, data, []byte("not an envelope"))
	g.publish(t, "city/gw-001/health", []byte(`{"gateway":"gw-001","version":"1.4.0","config_version":1,"devices":{}}`))
	mqtttest.Eventually(t, "a receipt through 3", func() bool { return g.receipt().Through == 3 })

	var mfs map[string]*dto.MetricFamily
	mqtttest.Eventually(t, "the metrics show the batches, the reject, the lag and the fleet", func() bool {
		mfs = scrape(t, base)
		lag, _ := value(mfs, "edgegw_ingest_receipt_lag_seconds")
		ok, _ := value(mfs, "edgegw_fleet_gateways", "state", "OK")
		return lag == 3 && ok == 1
	})
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"edgegw_ingest_readings_committed_total", nil, 12},
		{"edgegw_ingest_batches_committed_total", nil, 3},
		{"edgegw_ingest_envelopes_received_total", nil, 4},
		{"edgegw_ingest_rejects_total", []string{"reason", "malformed"}, 1},
		{"edgegw_ingest_commit_failing", nil, 0},
		{"edgegw_fleet_gateways", []string{"state", "OFFLINE"}, 0},
		{"edgegw_fleet_gateway_severity", []string{"gateway", "gw-001", "group", "gw"}, 0},
		{"edgegw_fleet_gateway_state", []string{"gateway", "gw-001", "state", "OK"}, 1},
	} {
		if v, ok := value(mfs, c.name, c.labels...); !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if mf := mfs["edgegw_ingest_receipt_lag_seconds"]; mf.GetType() != dto.MetricType_HISTOGRAM || len(mf.GetMetric()[0].GetHistogram().GetBucket()) == 0 {
		t.Errorf("receipt lag is not a histogram with buckets: %v", mf)
	}

	res, err := http.Get(base)
	must.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `href="/box/gw-001"`) {
		t.Errorf("GET / = %d, without gw-001", res.StatusCode)
	}
	res, err = http.Post(base, "text/plain", strings.NewReader("x"))
	must.NoError(t, err)
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", res.StatusCode)
	}
}

// TestWebNotServedByDefault: without http.listen the ingest serves nothing,
// and an address that is not loopback needs TLS and a token.
func TestWebNotServedByDefault(t *testing.T) {
	c, err := ingest.ParseConfig([]byte(goodConfig))
	must.NoError(t, err)
	if c.HTTP.Enabled() {
		t.Errorf("http enabled by default: %+v", c.HTTP)
	}
	_, err = ingest.ParseConfig([]byte(goodConfig + "http: {listen: \"0.0.0.0:8480\"}\n"))
	if err == nil || !strings.Contains(err.Error(), "http.listen: 0.0.0.0:8480 is not a loopback address: http.cert and http.key (TLS) are required") ||
		!strings.Contains(err.Error(), "http.token_file (a bearer token) is required") {
		t.Errorf("public listen without TLS and token: %v", err)
	}
	if _, err := ingest.ParseConfig([]byte(goodConfig + "http: {listen: \"127.0.0.1:8480\"}\n")); err != nil {
		t.Errorf("loopback listen: %v", err)
	}
	if _, err := ingest.ParseConfig([]byte(goodConfig + "http: {listne: x}\n")); err == nil || !strings.Contains(err.Error(), "field listne not found") {
		t.Errorf("unknown http field: %v", err)
	}
}
