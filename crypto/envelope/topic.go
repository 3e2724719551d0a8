package envelope

import "strings"

// CheckTopic checks that an envelope received over MQTT on topic was
// published where its header says it belongs: a batch of class AuditClass on
// <prefix>/<gateway>/audit, any other batch (gap records included) on
// <prefix>/<gateway>/data/<class>, where <prefix> is one or more topic levels
// and <gateway> and <class> are the header's. An empty topic (an envelope
// read from a file) passes. The error is a *RejectError with reason
// topic-mismatch.
func CheckTopic(topic string, h *Header) error {
	if topic == "" {
		return nil
	}
	levels := strings.Split(topic, "/")
	n := len(levels)
	var ok bool
	if h.Class == AuditClass {
		ok = n >= 3 && levels[n-1] == "audit" && levels[n-2] == h.GatewayID
	} else {
		ok = n >= 4 && levels[n-2] == "data" && levels[n-3] == h.GatewayID && levels[n-1] == h.Class
	}
	if !ok {
		return reject(ReasonTopicMismatch, "envelope of %s class %s received on topic %q", h.GatewayID, h.Class, topic)
	}
	return nil
}
