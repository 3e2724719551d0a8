package ingest

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgegw/edgegw/backend/fleet"
)

// Metric descriptions of the ingest (docs/operations.md, "Fleet page and
// metrics"). The fleet gauges come from the newest recorded evaluation
// (every fleet.interval); they are absent until the first.
var (
	descReceived  = prometheus.NewDesc("edgegw_ingest_envelopes_received_total", "Envelopes received from the broker (data, gap and audit records).", nil, nil)
	descBatches   = prometheus.NewDesc("edgegw_ingest_batches_committed_total", "New batches committed to the database (data, gap and audit records).", nil, nil)
	descReadings  = prometheus.NewDesc("edgegw_ingest_readings_committed_total", "Readings committed to the database.", nil, nil)
	descDups      = prometheus.NewDesc("edgegw_ingest_duplicates_total", "Batches received again that the database already held (answered with a receipt).", nil, nil)
	descReceipts  = prometheus.NewDesc("edgegw_ingest_receipts_published_total", "Signed receipts published.", nil, nil)
	descRejects   = prometheus.NewDesc("edgegw_ingest_rejects_total", "Envelopes not stored, by reason.", []string{"reason"}, nil)
	descFailing   = prometheus.NewDesc("edgegw_ingest_commit_failing", "1 while commits to the database fail (they are retried), else 0.", nil, nil)
	descByState   = prometheus.NewDesc("edgegw_fleet_gateways", "Gateways in each fleet state.", []string{"state"}, nil)
	descSeverity  = prometheus.NewDesc("edgegw_fleet_gateway_severity", "A gateway's fleet state as its rank: 0 OK, 1 DEGRADED, 2 CONFIG, 3 BACKLOG, 4 DATA-GAP, 5 SILENT, 6 OFFLINE.", []string{"gateway", "group"}, nil)
	descState     = prometheus.NewDesc("edgegw_fleet_gateway_state", "1 for a gateway's current fleet state.", []string{"gateway", "group", "state"}, nil)
	descEvaluated = prometheus.NewDesc("edgegw_fleet_evaluated_timestamp_seconds", "When the fleet states were last evaluated and recorded, Unix seconds.", nil, nil)
)

// receiptLagBuckets are the bounds of the receipt lag histogram, in seconds.
var receiptLagBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// metrics holds the service's Prometheus registry.
type metrics struct {
	reg *prometheus.Registry
	lag prometheus.Histogram

	mu      sync.Mutex
	summary *fleet.Summary // the newest recorded evaluation
}

func newMetrics(s *Service) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "edgegw_ingest_receipt_lag_seconds",
			Help:    "Seconds from receiving a batch to publishing the receipt that covers it.",
			Buckets: receiptLagBuckets,
		}),
	}
	m.reg.MustRegister(m.lag, collector{s: s, m: m}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *metrics) setSummary(sum fleet.Summary) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.summary = &sum
}

func (m *metrics) observeLag(received, published time.Time) {
	m.lag.Observe(max(0, published.Sub(received).Seconds()))
}

// collector turns the service's counters and the newest fleet evaluation
// into metrics at each scrape.
type collector struct {
	s *Service
	m *metrics
}

// Describe implements prometheus.Collector.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReceived, descBatches, descReadings, descDups, descReceipts, descRejects, descFailing,
		descByState, descSeverity, descState, descEvaluated} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descReceived, st.Received)
	counter(descBatches, st.Committed)
	counter(descReadings, st.Readings)
	counter(descDups, st.Duplicates)
	counter(descReceipts, st.Receipts)
	for reason, n := range st.Rejected {
		counter(descRejects, n, reason)
	}
	failing := 0.0
	if st.CommitErr != "" {
		failing = 1
	}
	ch <- prometheus.MustNewConstMetric(descFailing, prometheus.GaugeValue, failing)

	c.m.mu.Lock()
	sum := c.m.summary
	c.m.mu.Unlock()
	if sum == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descEvaluated, prometheus.GaugeValue, float64(sum.Time.UnixNano())/1e9)
	for _, state := range fleet.States {
		ch <- prometheus.MustNewConstMetric(descByState, prometheus.GaugeValue, float64(sum.Counts[state]), string(state))
	}
	for _, b := range sum.Boxes {
		ch <- prometheus.MustNewConstMetric(descSeverity, prometheus.GaugeValue, float64(b.State.Severity()), b.Gateway, b.Group)
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, 1, b.Gateway, b.Group, string(b.State))
	}
}
