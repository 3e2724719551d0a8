// Package envelope implements edgegw's batch envelope (docs/envelope.md): the
// format in which readings leave a gateway, sealed and signed.
//
// A batch belongs to one data class. Its clear header names the gateway, the
// per-gateway sequence number, the class, the configuration version, the HPKE
// suite, the recipient key id and the HPKE encapsulated key. Each poll's
// readings are encoded as SenML-CBOR (RFC 8428) and sealed at once as one
// chunk with HPKE (RFC 9180, base mode) to the class's recipient public key,
// with the header hash and the chunk index as associated data, so the gateway
// never stores plaintext and cannot open its own buffer. The trailer is an
// Ed25519 COSE_Sign1 (RFC 9052) with a detached payload over the header hash
// and a hash chain of the chunk ciphertexts, so it can be computed from stored
// bytes alone, for example after a crash.
//
// Sending: NewBatch, Batch.Header, Batch.Seal for each poll, then Sign and
// Marshal. Deliberate drops are reported with GapHeader, GapChunks and Sign,
// privileged local actions with RecordHeader (class AuditClass) and Sign, and
// a buffer export with SignManifest.
//
// Receiving: Parse, CheckTopic for an envelope received over MQTT,
// Envelope.Verify against a Trust, then Envelope.Open with the recipient
// private keys (or Envelope.Gap, Envelope.Audit); OpenManifest for an export.
// Every rejection is a *RejectError whose Reason is a stable string. Receivers
// enforce the deterministic CBOR of the specification on every structure and
// SenML pack, so that receivers in any language accept the same envelopes.
package envelope
