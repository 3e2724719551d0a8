package uplink

import "errors"

// ErrInvalidBatch is returned by Run when the source hands out a batch that
// cannot be published (its class is not a single topic level). Retrying
// cannot help, and skipping it would lose it, so the publisher stops.
var ErrInvalidBatch = errors.New("invalid batch")
