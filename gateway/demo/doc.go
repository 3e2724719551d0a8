// Package demo runs the whole of edgegw on one machine with no hardware: an
// embedded MQTT broker with mutual TLS on loopback, throwaway keys and
// certificates, the agent polling simulated devices, and the backend side
// verifying and opening every envelope. Halfway it stops the broker for a few
// seconds, so the agent buffers, then restarts it and shows the backlog
// drain. It ends with an account of every reading and a check that the
// gateway's own buffer cannot be decrypted with anything the gateway holds.
package demo
