package confsig

import "fmt"

// Rejection reasons. They are stable strings a gateway reports in its config
// status and an operator can count; they never change meaning.
const (
	// ReasonMalformed: the bytes are not a well-formed, canonical document of
	// the expected kind.
	ReasonMalformed = "malformed"
	// ReasonUntrustedKey: the document is signed by a key that is not pinned.
	ReasonUntrustedKey = "untrusted-key"
	// ReasonBadSignature: the signature does not verify with the pinned key
	// named by the document's key id (altered or forged document).
	ReasonBadSignature = "bad-signature"
	// ReasonNotForThisGateway: the target does not include this gateway, or
	// the configuration's gateway.id is another gateway's.
	ReasonNotForThisGateway = "not-for-this-gateway"
	// ReasonNotNewer: the version is not strictly greater than the running
	// one (a replay or a downgrade).
	ReasonNotNewer = "not-newer"
	// ReasonNotYetValid: the time is before the document's not-before.
	ReasonNotYetValid = "not-yet-valid"
	// ReasonExpired: the time is at or after the document's expiry.
	ReasonExpired = "expired"
	// ReasonInvalidConfig: the signed configuration does not parse or
	// validate, or its version is not the signed version.
	ReasonInvalidConfig = "invalid-config"
)

// RejectError is returned by Verify and VerifyTrust when a document must be
// rejected. Match it with errors.As and report Reason.
type RejectError struct {
	Reason string // one of the Reason constants
	Err    error  // the cause
}

// Error implements error.
func (e *RejectError) Error() string {
	return "config rejected: " + e.Reason + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *RejectError) Unwrap() error { return e.Err }

// reject returns a *RejectError with a formatted cause.
func reject(reason, format string, args ...any) error {
	return &RejectError{Reason: reason, Err: fmt.Errorf(format, args...)}
}
