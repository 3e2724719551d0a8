package mqtt

import "errors"

// ErrKeyPermissions is returned when the client key file is readable or
// writable by group or others; fix it with chmod 600.
var ErrKeyPermissions = errors.New("client key file accessible by group or others")
