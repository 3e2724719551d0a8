// Package pki creates the X.509 material edgegw uses for mutual TLS with its
// MQTT broker: a certificate authority, server certificates for brokers and
// client certificates whose common name is a gateway's (or a backend's)
// broker identity.
//
// It serves the one-command demo, the integration tests and technicians who
// need a throw-away CA on a laptop. Keys are ECDSA P-256 and PEM encoded
// (certificates as "CERTIFICATE", keys as PKCS#8 "PRIVATE KEY"). A fleet in
// production normally gets its certificates from the city's own PKI; nothing
// in the agent depends on this package.
package pki
