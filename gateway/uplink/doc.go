// Package uplink forwards the buffer's closed, signed batches to the MQTT
// broker and is the only package of edgegw that knows the paho client.
//
// A Publisher connects over MQTT 3.1.1 with TLS 1.2 or later, a client
// certificate whose common name is the gateway id, and a pinned CA. It
// publishes batches in sequence order with QoS 1 to
// <prefix>/<gateway-id>/data/<class>, keeps at most Config.Inflight of them
// unacknowledged, and deletes a batch from the buffer (Source.Ack) only after
// the broker's PUBACK. When the connection is lost, every unacknowledged
// batch is published again after the reconnect: delivery is at least once,
// and the backend deduplicates by (gateway, seq).
//
// The Publisher reconnects by itself (paho's automatic reconnect is off) with
// exponential backoff and full jitter, so that thousands of gateways do not
// reconnect in step after a city-wide outage. Its last will is a retained
// {"state":"offline"} on <prefix>/<gateway-id>/health; once connected it
// publishes a retained {"state":"online", ...} there, refreshed every
// Config.HealthInterval, and a retained offline on a graceful stop.
//
// Subscribe is the backend side: a persistent-session subscriber that
// survives broker and backend restarts without losing QoS 1 messages.
// PublishRetained is the operations side: one connection that publishes
// retained QoS 1 messages (signed configuration) and waits for the PUBACKs.
//
// Package uplinktest starts a real Mosquitto with TLS client authentication
// and per-gateway ACLs for the integration tests.
package uplink
