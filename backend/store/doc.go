// Package store is the database of `edgegw ingest`: it commits verified and
// opened batches (readings, gap records, audit records) and the envelopes the
// ingest rejected, and it answers, from the database alone, what a gateway's
// receipts state: which sequence numbers are committed and which are missing,
// with their cause.
//
// Two engines hold one schema: SQLite (modernc.org/sqlite, pure Go, one file)
// for one backend host, and PostgreSQL (pgx) for several ingest replicas
// sharing one database. The schema is created and upgraded only by Migrate,
// through numbered migrations embedded in the binary; Open refuses a database
// whose schema is not at the version this edgegw needs.
//
// A batch is identified by (gateway, sequence number). Commit stores each
// batch in the same transaction as its readings and as the gateway's compact
// table of received ranges, so a batch committed twice, by one replica or by
// two racing ones, is stored once, and Committed and Missing cost a number of
// ranges, never a number of sequence numbers.
package store
