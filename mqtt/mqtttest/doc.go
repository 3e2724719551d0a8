// Package mqtttest runs a real Mosquitto broker for tests: TLS with client
// certificates from a throw-away CA, the certificate's common name as the
// MQTT user name, and the per-gateway ACL edgegw expects from production
// brokers (each gateway reads and writes its own <prefix>/%u/... topics but
// only reads its config/set and receipt; see ACL), plus a backend identity
// that may read every gateway's data and health, an ops identity that pushes
// configuration, and an ingest identity that reads data and writes receipts.
//
// Tests are skipped when mosquitto is not installed, unless the environment
// variable CI is "true": CI must run them. Proxy sits between a client and
// the broker and can cut connections abruptly, or keep the link down, as a
// dead cellular link does.
package mqtttest
