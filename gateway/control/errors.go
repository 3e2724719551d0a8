package control

import "errors"

// ErrUnknownDevice is what an Agent returns (wrapped) for a device name that
// is not configured; the server answers 404.
var ErrUnknownDevice = errors.New("unknown device")

// ErrNotRunning is returned (wrapped) by the Client when nothing listens on
// the socket path: the agent is not running, or the path is wrong.
var ErrNotRunning = errors.New("no agent is listening on the control socket")

// ErrSocketPermission is returned (wrapped) by the Client when the caller may
// not open the socket file: it is not in the viewer group.
var ErrSocketPermission = errors.New("permission denied on the control socket")

// ErrDenied matches (with errors.Is) an *Error the server answered with 403:
// the caller's role is not enough for the call.
var ErrDenied = errors.New("denied")

// ErrNotFound matches (with errors.Is) an *Error the server answered with
// 404, such as an unknown device.
var ErrNotFound = errors.New("not found")
