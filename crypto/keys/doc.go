// Package keys holds edgegw's key material: the gateway's Ed25519 identity key,
// which signs envelope trailers (crypto/envelope), and the HPKE recipient keys of
// the data classes, whose public halves the gateway seals readings to.
//
// A gateway holds its identity private key and only the PUBLIC recipient keys;
// recipient private keys live with the backend. Private key files must be mode
// 0600 (see CheckPrivateFileMode); loaders refuse anything readable by group or
// others.
//
// File formats:
//
//	identity.key   PEM "PRIVATE KEY" (PKCS#8 Ed25519), mode 0600
//	identity.pub   "edgegw-ed25519 <base64 std of the 32-byte key> <id>\n"
//	recipient.key  PEM "EDGEGW HPKE PRIVATE KEY" with header "Suite: <suite>",
//	               holding the KEM private key (RFC 9180 SerializePrivateKey), mode 0600
//	recipient.pub  "edgegw-hpke-<suite> <base64 std of the serialized public key> [comment]\n"
//
// Key ids (KID) are the first 8 bytes of SHA-256 of the raw public key bytes.
package keys
