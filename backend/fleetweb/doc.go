// Package fleetweb is the fleet view's web page, served by `edgegw ingest`
// when its configuration has an `http:` block: an overview of every gateway
// (counts by state, a grid of all boxes by group, the worst boxes with their
// reason, a timeline of state changes) and a page per box (its reason, its
// devices with sparklines of the last 24 hours, its sequence gaps on a time
// axis (placed by the receive times of the batches around them), its
// configuration and version history). The pages are rendered on the server
// with html/template, inline SVG and CSS: no JavaScript, nothing fetched from
// elsewhere, so they work offline on the backend's network.
//
// The server is read-only (GET and HEAD), listens on loopback unless TLS and
// a bearer token are configured, and serves the ingest's Prometheus metrics
// at /metrics on the same listener.
package fleetweb
