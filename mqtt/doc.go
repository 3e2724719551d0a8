// Package mqtt holds the MQTT client pieces that every side of edgegw shares
// and that know nothing of the agent: broker URLs and mutual TLS with a
// pinned CA and a client key of mode 0600 (TLSConfig), the backend's
// persistent-session subscriber (Subscribe), and the operations publisher
// of retained QoS 1 messages (PublishRetained). The agent's buffer-aware
// publisher is package gateway/uplink.
//
// Package mqtttest starts a real Mosquitto with TLS client authentication
// and per-gateway ACLs for the integration tests.
package mqtt
