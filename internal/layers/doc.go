// Package layers holds no code: its test keeps edgegw's imports pointing one
// way (DESIGN.md, "Folders"). The backend, the crypto packages and the MQTT
// client link nothing of the agent, no hardware code and no bbolt, so that a
// backend or an ops tool that verifies gateways' documents carries none of it.
package layers
