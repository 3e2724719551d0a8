// Package confsig implements edgegw's signed configuration documents: what
// fleet operations push to gateways on <prefix>/<id>/config/set, and the exact
// check a gateway applies before it accepts one.
//
// # Keys
//
// Configuration is signed with an Ed25519 operations key, distinct from any
// gateway identity. InitOps writes a key pair:
//
//	ops.key   PEM "PRIVATE KEY" (PKCS#8 Ed25519), mode 0600; loaders refuse a
//	          file accessible by group or others
//	ops.pub   "edgegw-ops-ed25519 <base64 std of the 32-byte key> [comment]\n"
//
// A gateway pins one or more ops public keys (an OpsTrust, loaded from files
// of ops.pub lines with LoadOpsPublic). Key ids are the first 8 bytes of
// SHA-256 of the raw public key, as in crypto/keys.
//
// # Configuration document
//
// A document is a tagged COSE_Sign1 (RFC 9052) in exactly this canonical form:
//
//	18([protected: bstr .cbor {1: -8 (EdDSA), 4: kid}, unprotected: {},
//	    payload: bstr, signature: bstr .size 64])
//
// whose attached payload is the deterministic CBOR array
//
//	["edgegw config v1", version: uint, target, not_before: int, expires: int,
//	 config: bstr]
//
//	target = {"kind": "gateway", "ids": [id]}
//	       / {"kind": "list", "ids": [id, ...]}     ; ascending, no duplicates
//	       / {"kind": "group", "group": name}
//
// not_before and expires are Unix seconds, 0 meaning none; config is the
// configuration as the operator wrote it (YAML for edgegw, comments and all),
// at most MaxConfigSize bytes. This package treats it as opaque bytes: it
// signs and verifies documents and their routing header (version, target,
// window) and never parses the configuration, so that a backend or an ops
// tool verifying documents links nothing of the agent. Sign builds a
// document; Verify (or Policy.Verify) checks the signature by a pinned ops
// key, that the target includes the gateway, a version strictly greater than
// the running one and the validity window. The gateway then parses and
// validates the configuration, checks that it names this gateway and carries
// the signed version (gateway/fleet.VerifyConfig), and applies exactly the
// signed bytes. Every rejection is a *RejectError with a stable Reason.
//
// # Trust rotation
//
// A trust document (SignTrust, VerifyTrust) replaces a gateway's set of
// pinned ops keys. It has its own version counter and the payload
//
//	["edgegw ops trust v1", version: uint, target, not_before: int,
//	 expires: int, keys: [bstr .size 32, ...]]   ; keys ascending by bytes
//
// and must be signed by a key in the currently pinned set. The new set is
// stated in full (adding and retiring keys at once), so applying the same
// document twice is harmless, and it is never empty.
package confsig
