// Package topic is the one place that spells edgegw's MQTT topic layout. It
// builds topics and subscription filters, parses received topics, and checks
// topic prefixes. It imports only the standard library, so that every layer
// (the gateway, the backend, the envelope checks) may use it.
//
// Every topic is <prefix>/<gateway id>/<kind levels>, where <prefix> is one
// or more non-empty topic levels without wildcards, the same for a gateway
// and its backend, and the gateway id is the common name of the gateway's
// client certificate:
//
//	topic                          written by                     read by       retained
//	<prefix>/<id>/data/<class>     the gateway                    the backend   no
//	<prefix>/<id>/audit            the gateway                    the backend   no
//	<prefix>/<id>/receipt          the backend's ingest identity  the gateway   yes
//	<prefix>/<id>/health           the gateway (and its will)     operations    yes
//	<prefix>/<id>/config/set       fleet operations               the gateway   yes
//	<prefix>/<id>/config/status    the gateway                    operations    yes
//
// data/<class> carries envelopes of a data class (gap records included),
// audit the envelopes of class audit, receipt the signed receipts of what
// the backend stored, health the gateway's JSON health document (the last
// will {"state":"offline"} too), config/set signed configuration documents
// and config/status the gateway's configuration status. docs/envelope.md
// specifies the layout (its Topics table) and docs/operations.md the ACL a
// broker enforces on it.
//
// A backend subscribes to every gateway's topics of a kind with Filter, or
// Filters with a shared-subscription group ($share/<group>/...) so that
// replicas share the load. Parse reads a received topic from its end, under a
// prefix of any number of levels, as an envelope check does; ParseUnder
// reads it under a known prefix.
package topic
