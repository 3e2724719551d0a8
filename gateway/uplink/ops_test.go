package uplink_test

import (
	"context"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/gateway/uplink"
	"github.com/edgegw/edgegw/gateway/uplink/uplinktest"
)

// opsClient returns a ClientConfig with cn's certificate.
func opsClient(t testing.TB, br *uplinktest.Broker, cn string) uplink.ClientConfig {
	t.Helper()
	cert, key := br.Client(t, cn)
	return uplink.ClientConfig{Broker: br.URL, CA: br.CAFile, Cert: cert, Key: key}
}

func publishRetained(t *testing.T, cfg uplink.ClientConfig, msgs ...uplink.Message) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	errs, err := uplink.PublishRetained(ctx, cfg, msgs)
	if err != nil {
		t.Fatalf("PublishRetained: %v", err)
	}
	if len(errs) != len(msgs) {
		t.Fatalf("%d results for %d messages", len(errs), len(msgs))
	}
	return errs
}

// TestIntegrationOpsACL: ops pushes retained configuration to each gateway's
// config/set, which each gateway reads; gateways publish their status, which
// ops reads. Ops reads no configuration and forges no status.
func TestIntegrationOpsACL(t *testing.T) {
	br := integration(t)
	ops := opsClient(t, br, br.Ops)
	for i, err := range publishRetained(t, ops,
		uplink.Message{Topic: "city/gw-001/config/set", Payload: []byte("doc-1")},
		uplink.Message{Topic: "city/gw-002/config/set", Payload: []byte("doc-2")}) {
		if err != nil {
			t.Errorf("message %d: %v", i, err)
		}
	}
	for i, err := range publishRetained(t, opsClient(t, br, "gw-001"),
		uplink.Message{Topic: "city/gw-001/config/status", Payload: []byte("status-1")}) {
		if err != nil {
			t.Errorf("status %d: %v", i, err)
		}
	}

	var gw1, opsRx received
	subscribe(t, br, "gw-001", "gw-001-config", true, []string{"city/gw-001/config/set"}, gw1.handle)
	eventually(t, "gw-001's retained configuration", func() bool { return has(gw1.snapshot(), "city/gw-001/config/set", "doc-1") })

	subscribe(t, br, br.Ops, "ops-status", true, []string{"city/+/config/status", "city/+/config/set", "city/ops/sync"}, opsRx.handle)
	eventually(t, "gw-001's status at ops", func() bool { return has(opsRx.snapshot(), "city/gw-001/config/status", "status-1") })
	// ops owns city/ops/# by the pattern rule: its sync message follows every
	// retained message the broker queued at the subscription.
	publishRetained(t, ops, uplink.Message{Topic: "city/ops/sync", Payload: []byte("sync")})
	eventually(t, "ops's sync message", func() bool { return has(opsRx.snapshot(), "city/ops/sync", "sync") })
	for _, m := range opsRx.snapshot() {
		if strings.HasSuffix(m.topic, "/config/set") {
			t.Errorf("ops read configuration %s", m.topic)
		}
	}

	// A status forged by ops is refused; Mosquitto closes the connection,
	// which PublishRetained reports.
	errs := publishRetained(t, ops, uplink.Message{Topic: "city/gw-002/config/status", Payload: []byte("forged")})
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "closed the connection") {
		t.Errorf("forged status: %v, want an unconfirmed publish", errs[0])
	}
}

func has(msgs []message, topic, payload string) bool {
	for _, m := range msgs {
		if m.topic == topic && string(m.payload) == payload {
			return true
		}
	}
	return false
}

func TestPublishRetainedArguments(t *testing.T) {
	ctx := context.Background()
	if _, err := uplink.PublishRetained(ctx, uplink.ClientConfig{Broker: "ssl://127.0.0.1:1"}, nil); err == nil {
		t.Error("no messages accepted")
	}
	for _, topic := range []string{"", "city/+/config/set", "city/#"} {
		if _, err := uplink.PublishRetained(ctx, uplink.ClientConfig{Broker: "ssl://127.0.0.1:1"}, []uplink.Message{{Topic: topic}}); err == nil || !strings.Contains(err.Error(), "invalid topic") {
			t.Errorf("topic %q: %v", topic, err)
		}
	}
	if _, err := uplink.PublishRetained(ctx, uplink.ClientConfig{Broker: "tcp://127.0.0.1:1"}, []uplink.Message{{Topic: "a"}}); err == nil {
		t.Error("plain tcp accepted")
	}
}
