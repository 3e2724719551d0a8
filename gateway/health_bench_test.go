package gateway

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/gateway/config"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// BenchmarkIntegrationHealthTraffic runs the real edgegw binary with the 5
// simulated devices of a junction box (3 air-quality sensors, 2 three-phase
// meters) and its health document every second instead of every minute,
// and measures the health documents it really publishes, as a backend
// subscribed to its health topic receives them. It reports their mean size
// (health-B/doc) and the MQTT bytes per minute at the default
// health_interval of 60s (health-B/min): one PUBLISH a minute, its fixed
// header, topic, packet identifier and payload, and the broker's PUBACK.
func BenchmarkIntegrationHealthTraffic(b *testing.B) {
	if testing.Short() {
		b.Skip("integration benchmark")
	}
	const docs = 10
	agent := edgegwCommand(b)
	for range b.N {
		b.StopTimer()
		gw := newBenchGateway(b, `devices:
  - {name: aq-1, driver: sim, model: airquality, interval: 10s, class: telemetry}
  - {name: aq-2, driver: sim, model: airquality, interval: 10s, class: telemetry}
  - {name: aq-3, driver: sim, model: airquality, interval: 10s, class: telemetry}
  - {name: m-1, driver: sim, model: meter3p, interval: 10s, class: telemetry}
  - {name: m-2, driver: sim, model: meter3p, interval: 10s, class: telemetry}
`)
		cfg, err := os.ReadFile(gw.cfgPath)
		must.NoError(b, err)
		must.NoError(b, os.WriteFile(gw.cfgPath, bytes.Replace(cfg, []byte("uplink: {"), []byte("uplink: {health_interval: 1s, "), 1), 0o600))
		const topic = "city/gw-001/health"
		var in mqtttest.Inbox
		mqtttest.Subscribe(b, gw.br, gw.br.Backend, "health", true, []string{topic}, nil, in.Handle)
		b.StartTimer()
		cmd := gw.start(b, agent)
		var online []mqtttest.Message
		mqtttest.Eventually(b, "10 health documents", func() bool {
			online = online[:0]
			for _, m := range in.Snapshot() {
				if !strings.Contains(string(m.Payload), `"offline"`) {
					online = append(online, m)
				}
			}
			return len(online) >= docs
		})
		b.StopTimer()
		stopAgent(b, cmd)
		total := 0
		for _, m := range online[:docs] {
			total += len(m.Payload)
		}
		payload := float64(total) / docs
		// PUBLISH QoS 1: 1 byte of type and flags, the remaining length (2
		// bytes up to 16 KiB), the topic with its 2-byte length, the 2-byte
		// packet identifier; PUBACK: 4 bytes.
		wire := 1 + 2 + 2 + float64(len(topic)) + 2 + payload + 4
		b.ReportMetric(payload, "health-B/doc")
		b.ReportMetric(wire*float64(time.Minute)/float64(config.DefaultHealthInterval), "health-B/min")
	}
}
