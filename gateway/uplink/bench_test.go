package uplink_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/edgegw/edgegw/gateway/uplink"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// BenchmarkIntegrationDrain drains 10,000 batches of about 1.6 KB (100
// readings each) from a memory source through a real Mosquitto, waiting for
// every PUBACK. UPLINK_BENCH_INFLIGHT overrides the window.
func BenchmarkIntegrationDrain(b *testing.B) {
	const batches, readings = 10000, 100
	br := mqtttest.Start(b, mqtttest.Options{})
	certFile, keyFile := br.Client(b, "gw-001")
	inflight := uplink.DefaultInflight
	if v, err := strconv.Atoi(os.Getenv("UPLINK_BENCH_INFLIGHT")); err == nil {
		inflight = v
	}
	b.ReportAllocs()
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		src := &memSource{}
		src.add(batches, "telemetry", 1600)
		p, err := uplink.New(uplink.Config{
			Broker: br.URL, CA: br.CAFile, Cert: certFile, Key: keyFile,
			TopicPrefix: br.Prefix, GatewayID: "gw-001", Inflight: inflight,
			BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond, HealthInterval: -1,
		}, src, uplink.Deps{Marshal: marshal})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		start := time.Now()
		b.StartTimer()
		go func() { done <- p.Run(ctx) }()
		tick := time.NewTicker(time.Millisecond)
		deadline := time.Now().Add(5 * time.Minute)
		for p.State().Acked < batches {
			if time.Now().After(deadline) {
				b.Fatalf("drain timed out: %+v", p.State())
			}
			<-tick.C
		}
		tick.Stop()
		elapsed += time.Since(start)
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	total := float64(b.N) * batches
	b.ReportMetric(total/elapsed.Seconds(), "batches/s")
	b.ReportMetric(total*readings/elapsed.Seconds(), "readings/s")
}
