package uplink

import "errors"

// ErrInvalidBatch is returned by Run when the source hands out a batch that
// cannot be published (its class is not a single topic level). Retrying
// cannot help, and skipping it would lose it, so the publisher stops.
var ErrInvalidBatch = errors.New("invalid batch")

// ErrCertMismatch is returned by New when the client certificate's common
// name is not the gateway id: the broker knows the gateway by that name, so
// its ACL would drop every publish.
var ErrCertMismatch = errors.New("client certificate is not the gateway's")

// errLost marks a session that ended because the connection was lost.
var errLost = errors.New("lost")

// errStale marks a receipt whose Through is below one already accepted.
var errStale = errors.New("stale receipt")
