package mqtt_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// opsClient returns a ClientConfig with cn's certificate.
func opsClient(t testing.TB, br *mqtttest.Broker, cn string) mqtt.ClientConfig {
	t.Helper()
	cert, key := br.Client(t, cn)
	return mqtt.ClientConfig{Broker: br.URL, CA: br.CAFile, Cert: cert, Key: key}
}

func publishRetained(t *testing.T, cfg mqtt.ClientConfig, msgs ...mqtt.Message) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mqtttest.WaitTimeout)
	defer cancel()
	errs, err := mqtt.PublishRetained(ctx, cfg, msgs)
	if err != nil {
		t.Fatalf("PublishRetained: %v", err)
	}
	if len(errs) != len(msgs) {
		t.Fatalf("%d results for %d messages", len(errs), len(msgs))
	}
	return errs
}

// mustPublish publishes msgs retained as cfg and fails t for any the broker
// did not confirm.
func mustPublish(t *testing.T, cfg mqtt.ClientConfig, msgs ...mqtt.Message) {
	t.Helper()
	for i, err := range publishRetained(t, cfg, msgs...) {
		if err != nil {
			t.Errorf("%s (message %d): %v", msgs[i].Topic, i, err)
		}
	}
}

// retainedPerGateway starts a broker with the prefix "city", where the
// identity who names publishes, retained, payload-1 on gw-001's topic kind
// and payload-2 on gw-002's; it returns the broker and that identity's
// client configuration.
func retainedPerGateway(t *testing.T, who func(*mqtttest.Broker) string, kind, payload string) (*mqtttest.Broker, mqtt.ClientConfig) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped with -short")
	}
	br := mqtttest.Start(t, mqtttest.Options{Prefix: "city"})
	cfg := opsClient(t, br, who(br))
	var msgs []mqtt.Message
	for i, gw := range []string{"gw-001", "gw-002"} {
		msgs = append(msgs, mqtt.Message{Topic: "city/" + gw + "/" + kind, Payload: fmt.Appendf(nil, "%s-%d", payload, i+1)})
	}
	mustPublish(t, cfg, msgs...)
	return br, cfg
}

// mustRefuse publishes "forged" retained on topic as cfg, whose identity
// may not write there: Mosquitto closes the connection, which
// PublishRetained reports; who names cfg's identity in the failure.
func mustRefuse(t *testing.T, cfg mqtt.ClientConfig, who, topic string) {
	t.Helper()
	errs := publishRetained(t, cfg, mqtt.Message{Topic: topic, Payload: []byte("forged")})
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "closed the connection") {
		t.Errorf("%s writing %s: %v, want an unconfirmed publish", who, topic, errs[0])
	}
}

// TestIntegrationOpsACL: ops pushes retained configuration to each gateway's
// config/set, which each gateway reads; gateways publish their status, which
// ops reads. Ops reads no configuration and forges no status.
func TestIntegrationOpsACL(t *testing.T) {
	br, ops := retainedPerGateway(t, func(br *mqtttest.Broker) string { return br.Ops }, "config/set", "doc")
	mustPublish(t, opsClient(t, br, "gw-001"), mqtt.Message{Topic: "city/gw-001/config/status", Payload: []byte("status-1")})

	var gw1, opsRx mqtttest.Inbox
	mqtttest.Subscribe(t, br, "gw-001", "gw-001-config", true, []string{"city/gw-001/config/set"}, nil, gw1.Handle)
	mqtttest.Eventually(t, "gw-001's retained configuration", func() bool { return gw1.Has("city/gw-001/config/set", "doc-1") })

	mqtttest.Subscribe(t, br, br.Ops, "ops-status", true, []string{"city/+/config/status", "city/+/config/set", "city/ops/sync"}, nil, opsRx.Handle)
	mqtttest.Eventually(t, "gw-001's status at ops", func() bool { return opsRx.Has("city/gw-001/config/status", "status-1") })
	// ops owns city/ops/# by the pattern rule: its sync message follows every
	// retained message the broker queued at the subscription.
	mustPublish(t, ops, mqtt.Message{Topic: "city/ops/sync", Payload: []byte("sync")})
	mqtttest.Eventually(t, "ops's sync message", func() bool { return opsRx.Has("city/ops/sync", "sync") })
	for _, m := range opsRx.Snapshot() {
		if strings.HasSuffix(m.Topic, "/config/set") {
			t.Errorf("ops read configuration %s", m.Topic)
		}
	}

	// A status forged by ops is refused.
	mustRefuse(t, ops, "ops", "city/gw-002/config/status")
}

// TestIntegrationIngestACL: the ingest identity reads every gateway's data,
// audit and health and writes each gateway's retained receipt, which only
// that gateway reads; it can neither forge data nor push configuration.
func TestIntegrationIngestACL(t *testing.T) {
	br, ingest := retainedPerGateway(t, func(br *mqtttest.Broker) string { return br.Ingest }, "receipt", "receipt")

	var ingestRx, gw1 mqtttest.Inbox
	mqtttest.Subscribe(t, br, br.Ingest, "ingest", true, []string{"city/+/data/#", "city/+/audit", "city/+/health"}, nil, ingestRx.Handle)
	mqtttest.Subscribe(t, br, "gw-001", "gw-001-receipts", true, []string{"city/+/receipt", "city/gw-001/sync"}, nil, gw1.Handle)
	mqtttest.Eventually(t, "gw-001's retained receipt", func() bool { return gw1.Has("city/gw-001/receipt", "receipt-1") })
	mustPublish(t, opsClient(t, br, "gw-001"),
		mqtt.Message{Topic: "city/gw-001/data/telemetry", Payload: []byte("batch")},
		mqtt.Message{Topic: "city/gw-001/audit", Payload: []byte("audit")},
		mqtt.Message{Topic: "city/gw-001/health", Payload: []byte("health")},
		mqtt.Message{Topic: "city/gw-001/sync", Payload: []byte("sync")})
	for _, topic := range []string{"city/gw-001/data/telemetry", "city/gw-001/audit", "city/gw-001/health"} {
		mqtttest.Eventually(t, topic+" at the ingest", func() bool {
			return slices.ContainsFunc(ingestRx.Snapshot(), func(m mqtttest.Message) bool { return m.Topic == topic })
		})
	}
	// gw-001's sync message follows everything the broker queued for it.
	mqtttest.Eventually(t, "gw-001's sync message", func() bool { return gw1.Has("city/gw-001/sync", "sync") })
	for _, m := range gw1.Snapshot() {
		if m.Topic == "city/gw-002/receipt" {
			t.Errorf("gw-001 read gw-002's receipt %q", m.Payload)
		}
	}

	// A gateway cannot replace or clear the receipt retained for it.
	mustRefuse(t, opsClient(t, br, "gw-001"), "gw-001", "city/gw-001/receipt")

	for _, topic := range []string{"city/gw-001/data/telemetry", "city/gw-001/config/set"} {
		mustRefuse(t, ingest, "ingest", topic)
	}
}

func TestPublishRetainedArguments(t *testing.T) {
	ctx := context.Background()
	if _, err := mqtt.PublishRetained(ctx, mqtt.ClientConfig{Broker: "ssl://127.0.0.1:1"}, nil); err == nil {
		t.Error("no messages accepted")
	}
	for _, topic := range []string{"", "city/+/config/set", "city/#"} {
		if _, err := mqtt.PublishRetained(ctx, mqtt.ClientConfig{Broker: "ssl://127.0.0.1:1"}, []mqtt.Message{{Topic: topic}}); err == nil || !strings.Contains(err.Error(), "invalid topic") {
			t.Errorf("topic %q: %v", topic, err)
		}
	}
	if _, err := mqtt.PublishRetained(ctx, mqtt.ClientConfig{Broker: "tcp://127.0.0.1:1"}, []mqtt.Message{{Topic: "a"}}); err == nil {
		t.Error("plain tcp accepted")
	}
}
