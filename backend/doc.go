// Package backend is the receiving side of edgegw, what `edgegw open` and a
// city's ingestion replicas run: it parses each envelope, verifies its
// signature against the trusted gateway keys, opens its chunks with the
// recipient private keys, deduplicates by (gateway, sequence number) and
// accounts for every sequence number: delivered, reported in a signed gap
// record, or missing.
package backend
