package uplink

import "errors"

// ErrKeyPermissions is returned when the client key file is readable or
// writable by group or others; fix it with chmod 600.
var ErrKeyPermissions = errors.New("client key file accessible by group or others")

// ErrInvalidBatch is returned by Run when the source hands out a batch that
// cannot be published (its class is not a single topic level). Retrying
// cannot help, and skipping it would lose it, so the publisher stops.
var ErrInvalidBatch = errors.New("invalid batch")
