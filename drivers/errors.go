package drivers

import "errors"

// ErrNoData reports that a device answered but had no new measurement yet
// (for example still warming up). The gateway skips the poll without
// recording read errors.
var ErrNoData = errors.New("no data")
