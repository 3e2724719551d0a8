// Package uplink forwards the buffer's closed, signed batches to the MQTT
// broker, and deletes each from the buffer once it is delivered.
//
// A Publisher connects over MQTT 3.1.1 with TLS 1.2 or later, a client
// certificate whose common name is the gateway id (New refuses another), and
// a pinned CA. It publishes batches in sequence order with QoS 1 to
// <prefix>/<gateway-id>/data/<class>, keeping at most Config.Inflight of them
// without a PUBACK.
//
// A PUBACK is not storage: a broker that crashes, drops what overflows its
// queues or silently drops what its ACL refuses has acknowledged it too. With
// Config.Receipts (the backend ingest's pinned keys) the Publisher subscribes
// to <prefix>/<gateway-id>/receipt, where the ingest publishes, retained, a
// signed receipt of what the city's database has committed. A receipt is
// verified (signed by a pinned key, for this gateway, never moving
// backwards) and deletes from the buffer (Source.Ack) exactly the batches it
// covers; anything else deletes nothing and is counted by reason. A PUBACK
// then only frees the in-flight window. A batch not covered within
// Config.ReceiptTimeout is published again, oldest first, each time after
// twice as long (up to 10 minutes); at most Config.Unreceipted batches wait
// for a receipt, so a drain can outrun neither the backend nor the broker's
// queue. Without receipt keys a batch is deleted on its PUBACK, and Run says
// so at start.
//
// When the connection is lost, every batch published without a PUBACK is
// published again after the reconnect: delivery is at least once, and the
// backend deduplicates by (gateway, seq).
//
// The Publisher reconnects by itself (paho's automatic reconnect is off) with
// exponential backoff and full jitter, capped at 10 s by default, so that
// thousands of gateways do not reconnect in step after a city-wide outage
// and a returning broker is used within seconds. Its last will is a retained
// {"state":"offline"} on <prefix>/<gateway-id>/health; once connected it
// publishes a retained {"state":"online", ...} there, refreshed every
// Config.HealthInterval, and a retained offline on a graceful stop.
//
// The connection pieces every edgegw MQTT client shares (broker URLs, mutual
// TLS, the backend's subscriber, the operations publisher) are in package
// mqtt.
package uplink
