package store

import "errors"

// ErrSchemaVersion is returned by Open when the database schema is not at the
// version this edgegw needs: not created yet, older (run `edgegw ingest
// migrate`), or newer (upgrade edgegw). Retrying does not help.
var ErrSchemaVersion = errors.New("database schema version mismatch")

// ErrInvalid is returned by Commit when a batch cannot be stored as given (a
// sequence number of 0, a gap record without its range, a string PostgreSQL
// cannot hold, ...), and by Open and Migrate for a DSN naming no database.
// Nothing of the call was stored; retrying the same batch fails again, so the
// caller records it with Reject instead.
var ErrInvalid = errors.New("invalid input")
