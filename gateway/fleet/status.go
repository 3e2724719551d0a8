// Package fleet is the gateway's side of fleet operations. This file holds
// the contract between a gateway and the operations tools: the configuration
// status document a gateway publishes (mqtt/topic spells its topics).
package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/edgegw/edgegw/crypto/keys"
)

// Configuration states a gateway reports. A configuration moves received →
// validated → applying → probation → committed, or ends rolled-back; a
// document refused before it is applied leaves the running configuration
// alone and is reported as rejected.
const (
	StateReceived   = "received"    // a document arrived and is being checked
	StateValidated  = "validated"   // it verified and validated; not applied yet
	StateApplying   = "applying"    // the new configuration is being written and swapped in
	StateProbation  = "probation"   // it runs, and must reach the broker and poll its devices within the window
	StateCommitted  = "committed"   // it passed probation and is now the last-known-good
	StateRolledBack = "rolled-back" // probation failed; the last-known-good runs again
	StateRejected   = "rejected"    // the document was refused; the running configuration is unchanged
)

// states are the valid values of Status.State.
var states = []string{StateReceived, StateValidated, StateApplying, StateProbation, StateCommitted, StateRolledBack, StateRejected}

// MaxStatusSize bounds the JSON of a Status, and MaxReasonLen its Reason.
const (
	MaxStatusSize = 8 << 10
	MaxReasonLen  = 4 << 10
)

// Status is the configuration status a gateway publishes retained on
// <prefix>/<id>/config/status whenever its configuration state changes, as
// one JSON object, for example
//
//	{"gateway":"gw-001","version":7,"hash":"9f86…","state":"rolled-back",
//	 "reason":"probation: broker unreachable: dial tcp …","time":"2026-03-01T12:00:05Z"}
//	{"gateway":"gw-001","version":7,"hash":"9f86…","state":"rejected","offered":5,
//	 "reason":"version 5: not-newer: …","time":"2026-03-01T12:10:00Z"}
//
// Readers must ignore members they do not know, so that members can be
// added.
type Status struct {
	// Gateway is the publishing gateway's id; it equals the id level of the
	// topic (a broker ACL confines a gateway to its own topics).
	Gateway string `json:"gateway"`
	// Version is the version of the configuration the gateway runs now: the
	// new one from probation on, the previous one while a document is checked
	// or applied and after a rejection or rollback. 0 before the first push.
	Version uint64 `json:"version"`
	// Hash is the lowercase hex SHA-256 of the running configuration file,
	// byte for byte (for a pushed one, confsig.Document.Digest: the bytes
	// that were signed); empty when unknown. sha256sum of the file gives it.
	Hash string `json:"hash,omitempty"`
	// State is one of the State constants.
	State string `json:"state"`
	// Reason says why, for rejected and rolled-back (required there): a
	// confsig rejection reason or the failed probation check, then details
	// (such as field names of an invalid configuration and the offered
	// version). Optional otherwise; at most MaxReasonLen bytes.
	Reason string `json:"reason,omitempty"`
	// Time is when the gateway entered State, RFC 3339 in JSON.
	Time time.Time `json:"time"`
	// Offered is the version of the document a rejection is about (for
	// rejected, and for probation when a document was refused meanwhile),
	// so that it is not taken for the running Version; 0 when its header
	// could not be read, and for the other states.
	Offered uint64 `json:"offered,omitempty"`
}

// Validate returns an error naming the first invalid member of s.
func (s Status) Validate() error {
	if err := keys.CheckGatewayID(s.Gateway); err != nil {
		return fmt.Errorf("status: gateway: %w", err)
	}
	if !slices.Contains(states, s.State) {
		return fmt.Errorf("status: state %q is not one of %s", s.State, strings.Join(states, ", "))
	}
	if s.Hash != "" && !isHexSHA256(s.Hash) {
		return fmt.Errorf("status: hash %q is not 64 lowercase hex digits", s.Hash)
	}
	if (s.State == StateRejected || s.State == StateRolledBack) && s.Reason == "" {
		return fmt.Errorf("status: state %s without a reason", s.State)
	}
	if len(s.Reason) > MaxReasonLen {
		return fmt.Errorf("status: reason is %d bytes, more than %d", len(s.Reason), MaxReasonLen)
	}
	if s.Time.IsZero() {
		return errors.New("status: no time")
	}
	return nil
}

// ParseStatus decodes and validates a status document.
func ParseStatus(data []byte) (Status, error) {
	var s Status
	if len(data) > MaxStatusSize {
		return s, fmt.Errorf("status: %d bytes, more than %d", len(data), MaxStatusSize)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("status: %w", err)
	}
	return s, s.Validate()
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
