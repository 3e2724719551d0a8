package envelope

import "github.com/edgegw/edgegw/mqtt/topic"

// CheckTopic checks that an envelope received over MQTT on t was published
// where its header says it belongs: a batch of class AuditClass on
// <prefix>/<gateway>/audit, any other batch (gap records included) on
// <prefix>/<gateway>/data/<class>, where <prefix> is one or more topic levels
// and <gateway> and <class> are the header's. An empty topic (an envelope
// read from a file) passes. The error is a *RejectError with reason
// topic-mismatch.
func CheckTopic(t string, h *Header) error {
	if t == "" {
		return nil
	}
	want := topic.Topic{Gateway: h.GatewayID, Kind: topic.KindData, Class: h.Class}
	if h.Class == AuditClass {
		want.Kind, want.Class = topic.KindAudit, ""
	}
	got, err := topic.Parse(t)
	want.Prefix = got.Prefix // any prefix
	if err != nil || got != want {
		return reject(ReasonTopicMismatch, "envelope of %s class %s received on topic %q", h.GatewayID, h.Class, t)
	}
	return nil
}
