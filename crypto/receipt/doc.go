// Package receipt is the backend's signed statement of what the city's
// database has committed for one gateway. `edgegw ingest` signs a receipt
// with its own Ed25519 identity after each commit and publishes it retained
// on <prefix>/<gateway>/receipt; the gateway verifies it against the ingest
// keys it pins and deletes from its buffer exactly the batches it covers. A
// broker's PUBACK is not storage: a receipt is.
//
// A receipt is a tagged COSE_Sign1 (protected header {alg: EdDSA, kid}) whose
// attached payload is the CBOR array
//
//	["edgegw receipt v1", gateway, through, ranges, time]
//
// where through is the highest sequence number n such that every number in
// 1..n is committed (as a batch, or covered by a committed gap record), ranges
// are ascending, disjoint, inclusive [from, to] runs of committed numbers above
// through+1, and time is the signing time in milliseconds since the Unix
// epoch. The format is specified in docs/envelope.md.
package receipt
