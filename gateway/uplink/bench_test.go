package uplink_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/edgegw/edgegw/gateway/uplink"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// BenchmarkIntegrationDrain drains 10,000 batches of about 1.6 KB (100
// readings each) from a memory source through a real Mosquitto, waiting for
// every PUBACK. UPLINK_BENCH_INFLIGHT overrides the window.
func BenchmarkIntegrationDrain(b *testing.B) {
	benchDrain(b, false)
}

// BenchmarkIntegrationDrainReceipts drains the same backlog with receipt
// keys pinned: a batch is done when a receipt covers it, and the ingest
// stand-in receipts what it received every 200 ms, as `edgegw ingest`
// coalesces its receipts. UPLINK_BENCH_UNRECEIPTED overrides the bound.
func BenchmarkIntegrationDrainReceipts(b *testing.B) {
	benchDrain(b, true)
}

func benchDrain(b *testing.B, receipts bool) {
	const batches, readings = 10000, 100
	br := mqtttest.Start(b, mqtttest.Options{})
	certFile, keyFile := br.Client(b, "gw-001")
	cfg := uplink.Config{
		Broker: br.URL, CA: br.CAFile, Cert: certFile, Key: keyFile,
		TopicPrefix: br.Prefix, GatewayID: "gw-001", Inflight: envInt("UPLINK_BENCH_INFLIGHT"),
		BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond, HealthInterval: -1,
	}
	done := func(st uplink.State) uint64 { return st.Acked }
	if receipts {
		in := startIngest(b, br)
		in.every("gw-001", 200*time.Millisecond)
		cfg.Receipts, cfg.Unreceipted = in.pinned(), envInt("UPLINK_BENCH_UNRECEIPTED")
		done = func(st uplink.State) uint64 { return st.Receipts.Receipted }
	}
	b.ReportAllocs()
	var elapsed time.Duration
	var sent uint64
	for b.Loop() {
		b.StopTimer()
		src := &memSource{next: sent} // numbers go on: the ingest remembers what it received
		sent = src.add(batches, "telemetry", 1600)
		p, err := uplink.New(cfg, src, uplink.Deps{Marshal: marshal})
		must.NoError(b, err)
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan error, 1)
		start := time.Now()
		b.StartTimer()
		go func() { ran <- p.Run(ctx) }()
		tick := time.NewTicker(time.Millisecond)
		deadline := time.Now().Add(5 * time.Minute)
		for done(p.State()) < batches {
			if time.Now().After(deadline) {
				b.Fatalf("drain timed out: %+v", p.State())
			}
			<-tick.C
		}
		tick.Stop()
		elapsed += time.Since(start)
		b.StopTimer()
		cancel()
		must.NoError(b, <-ran)
		b.StartTimer()
	}
	total := float64(b.N) * batches
	b.ReportMetric(total/elapsed.Seconds(), "batches/s")
	b.ReportMetric(total*readings/elapsed.Seconds(), "readings/s")
}

// envInt returns the integer in environment variable name, 0 when unset.
func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}
