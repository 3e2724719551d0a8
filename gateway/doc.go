// Package gateway is the edgegw agent: it polls each configured device on its
// own schedule, validates and flags the readings, seals each poll into the
// open batch of its data class, closes and signs batches at max_readings or
// max_delay, keeps them in the buffer and hands them to the uplink, which
// deletes them once the broker has acknowledged them.
//
// A batch left open by a crash is closed and signed from its stored bytes
// when the agent starts again; a graceful stop (SIGTERM/SIGINT) closes every
// open batch before the buffer is closed, so it loses nothing.
package gateway
