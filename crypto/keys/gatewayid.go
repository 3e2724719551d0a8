package keys

import (
	"fmt"
	"regexp"
)

// GatewayIDForm is the form of a gateway id (and of a fleet group name): a
// lowercase letter or digit, then up to 62 lowercase letters, digits or
// dashes. A gateway id is also its client certificate's identity and a topic
// level. This is the one definition every package checks ids against.
const GatewayIDForm = "[a-z0-9][a-z0-9-]{0,62}"

var gatewayIDRE = regexp.MustCompile("^" + GatewayIDForm + "$")

// IsGatewayID reports whether s has the form of a gateway id.
func IsGatewayID(s string) bool { return gatewayIDRE.MatchString(s) }

// CheckGatewayID returns an error unless id has the form of a gateway id.
func CheckGatewayID(id string) error {
	if !IsGatewayID(id) {
		return fmt.Errorf("gateway id %q does not match %s", id, GatewayIDForm)
	}
	return nil
}
