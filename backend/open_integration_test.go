package backend_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/backend/backendtest"
	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/gateway/uplink"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// TestIntegrationOpenSubscribes runs the `edgegw open` side against a real
// Mosquitto: it subscribes with the backend identity, opens what a gateway
// publishes and stops after --count readings, printing JSON lines.
func TestIntegrationOpenSubscribes(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	br := mqtttest.Start(t, mqtttest.Options{})
	g := backendtest.NewGateway(t, "gw-001")
	store := buffer.NewMemory(buffer.Options{})
	for seq := uint64(1); seq <= 3; seq++ {
		wire := g.Batch(seq, 4)
		env, err := envelope.Parse(wire)
		must.NoError(t, err)
		got, err := store.Begin("telemetry", backendtest.At, func(uint64) ([]byte, error) { return env.RawHeader, nil })
		must.NoError(t, err)
		if got != seq {
			t.Fatalf("memory store assigned seq %d, want %d", got, seq)
		}
		must.NoError(t, store.Append(seq, env.Chunks[0], 4))
		must.NoError(t, store.Seal(seq, env.Trailer))
	}

	beCert, beKey := br.Client(t, br.Backend)
	subscribed := make(chan struct{}, 1)
	var out, errOut bytes.Buffer
	type result struct {
		sum backend.Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := backend.Open(context.Background(), backend.NewReceiver(envelope.NewTrust(g.ID.Public()), g.Key), backend.Options{
			Subscribe: mqtt.SubscribeConfig{Broker: br.URL, CA: br.CAFile, Cert: beCert, Key: beKey, ClientID: "open-test",
				Topics: []string{"city/+/data/#"}, OnSubscribe: func() { subscribed <- struct{}{} }},
			Count: 12, Timeout: time.Minute,
		}, &out, &errOut)
		done <- result{sum, err}
	}()
	select {
	case <-subscribed:
	case r := <-done:
		t.Fatalf("open ended before subscribing: %v", r.err)
	}

	gwCert, gwKey := br.Client(t, "gw-001")
	pub, err := uplink.New(uplink.Config{Broker: br.URL, CA: br.CAFile, Cert: gwCert, Key: gwKey, TopicPrefix: "city", GatewayID: "gw-001", HealthInterval: -1},
		store, uplink.Deps{Marshal: func(b buffer.Batch) []byte { return envelope.Marshal(b.Header, b.Chunks, b.Trailer) }})
	must.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go pub.Run(ctx)

	r := <-done
	must.NoError(t, r.err)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 12 || r.sum.Readings != 12 || len(r.sum.Missing) != 0 {
		t.Errorf("printed %d lines, summary %s; want 12 readings, no gaps\n%s", len(lines), r.sum, errOut.String())
	}
	if !strings.Contains(lines[0], `"gateway":"gw-001","seq":1,"device":"aq-1","channel":"t","value":0.5`) {
		t.Errorf("first line %s", lines[0])
	}
}
