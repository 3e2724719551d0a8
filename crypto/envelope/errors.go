package envelope

import "fmt"

// Rejection reasons. They are stable strings a backend can count (for example
// as a metric label); they never change meaning.
const (
	// ReasonMalformed: the bytes are not a well-formed, canonical envelope.
	ReasonMalformed = "malformed"
	// ReasonUnsupportedVersion: the header's format version is not 1.
	ReasonUnsupportedVersion = "unsupported-version"
	// ReasonUntrustedGateway: the gateway id is not in the trust set, or the
	// trailer was signed by a key other than the one pinned for that gateway.
	ReasonUntrustedGateway = "untrusted-gateway"
	// ReasonBadSignature: the trailer signature does not cover this header and
	// these chunks (altered, reordered, dropped or appended data).
	ReasonBadSignature = "bad-signature"
	// ReasonNoRecipientKey: none of the given recipient keys matches the
	// header's suite and recipient key id.
	ReasonNoRecipientKey = "no-recipient-key"
	// ReasonDecryptFailed: HPKE could not open a chunk.
	ReasonDecryptFailed = "decrypt-failed"
	// ReasonBadSenML: a chunk opened but its SenML-CBOR (or gap record) is
	// invalid.
	ReasonBadSenML = "bad-senml"
	// ReasonTopicMismatch: the envelope arrived on an MQTT topic that does not
	// name its header's gateway id and class (see CheckTopic).
	ReasonTopicMismatch = "topic-mismatch"
)

// RejectError is returned by Parse, CheckTopic, Envelope.Verify, Envelope.Open,
// Envelope.Gap, Envelope.Audit and OpenManifest when an envelope (or manifest)
// must be rejected. Match it with errors.As and count by Reason.
type RejectError struct {
	Reason string // one of the Reason constants
	Err    error  // the cause
}

// Error implements error.
func (e *RejectError) Error() string {
	return "envelope rejected: " + e.Reason + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *RejectError) Unwrap() error { return e.Err }

// reject returns a *RejectError with a formatted cause.
func reject(reason, format string, args ...any) error {
	return &RejectError{Reason: reason, Err: fmt.Errorf(format, args...)}
}
