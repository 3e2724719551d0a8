// Package uplink forwards the buffer's closed, signed batches to the MQTT
// broker.
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
// The connection pieces every edgegw MQTT client shares (broker URLs, mutual
// TLS, the backend's subscriber, the operations publisher) are in package
// mqtt.
package uplink
