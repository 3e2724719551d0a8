package envelope

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/mlkem"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/internal/must"
)

// This file implements the two suites of docs/envelope.md from the text of
// the specification, with standard primitives only (X25519, ML-KEM-768,
// SHA3, SHAKE256, HKDF), as a receiver written in another language would. The
// vectors test checks that it agrees with crypto/hpke, which edgegw uses.

// HPKE identifiers of the suites (RFC 9180 section 7; draft-ietf-hpke-pq-03).
const (
	kemX25519     = 0x0020
	kemXWing      = 0x647a
	kdfHKDFSHA256 = 0x0001
	aeadChaCha    = 0x0003
)

// xwingLabel is the 6-byte label of the MLKEM768-X25519 combiner: \.//^\
var xwingLabel = []byte{0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c}

// i2osp2 is I2OSP(n, 2).
func i2osp2(n int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(n)) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// labeledExtract and labeledExpand are RFC 9180 section 4 with HKDF-SHA256.
func labeledExtract(t testing.TB, suiteID, salt []byte, label string, ikm []byte) []byte {
	prk, err := hkdf.Extract(sha256.New, cat([]byte("HPKE-v1"), suiteID, []byte(label), ikm), salt)
	must.NoError(t, err)
	return prk
}

func labeledExpand(t testing.TB, suiteID, prk []byte, label string, info []byte, n int) []byte {
	out, err := hkdf.Expand(sha256.New, prk, string(cat(i2osp2(n), []byte("HPKE-v1"), suiteID, []byte(label), info)), n)
	must.NoError(t, err)
	return out
}

// specKey is a recipient key pair as the specification derives it.
type specKey struct {
	private []byte // SerializePrivateKey: the clamped X25519 scalar, or the 32-byte MLKEM768-X25519 seed
	public  []byte // SerializePublicKey
	decap   func(t testing.TB, enc []byte) []byte
}

// specDeriveKey is DeriveKeyPair(ikm) of suite s.
func specDeriveKey(t testing.TB, s keys.Suite, ikm []byte) specKey {
	switch s {
	case keys.SuiteX25519:
		// RFC 9180 section 7.1.3.
		kemID := cat([]byte("KEM"), i2osp2(kemX25519))
		sk := labeledExpand(t, kemID, labeledExtract(t, kemID, nil, "dkp_prk", ikm), "sk", nil, 32)
		priv, err := ecdh.X25519().NewPrivateKey(sk)
		must.NoError(t, err)
		pk := priv.PublicKey().Bytes()
		// SerializePrivateKey clamps (RFC 9180 section 7.1.2).
		clamped := bytes.Clone(sk)
		clamped[0] &= 248
		clamped[31] = clamped[31]&127 | 64
		return specKey{private: clamped, public: pk, decap: func(t testing.TB, enc []byte) []byte {
			pe, err := ecdh.X25519().NewPublicKey(enc)
			must.NoError(t, err)
			dh, err := priv.ECDH(pe)
			must.NoError(t, err)
			// ExtractAndExpand(dh, kem_context = enc || pkR).
			prk := labeledExtract(t, kemID, nil, "eae_prk", dh)
			return labeledExpand(t, kemID, prk, "shared_secret", cat(enc, pk), 32)
		}}
	case keys.SuiteMLKEM768X25519:
		// DeriveKeyPair with the one-stage SHAKE256 LabeledDerive.
		h := sha3.NewSHAKE256()
		h.Write(cat(ikm, []byte("HPKE-v1"), []byte("KEM"), i2osp2(kemXWing), i2osp2(len("DeriveKeyPair")), []byte("DeriveKeyPair"), i2osp2(32)))
		seed := make([]byte, 32)
		h.Read(seed)
		// Expand the seed: 64 bytes of ML-KEM-768 seed (d || z), then the
		// X25519 private key.
		x := sha3.NewSHAKE256()
		x.Write(seed)
		pqSeed, tSeed := make([]byte, 64), make([]byte, 32)
		x.Read(pqSeed)
		x.Read(tSeed)
		dk, err := mlkem.NewDecapsulationKey768(pqSeed)
		must.NoError(t, err)
		skT, err := ecdh.X25519().NewPrivateKey(tSeed)
		must.NoError(t, err)
		pkT := skT.PublicKey().Bytes()
		return specKey{private: seed, public: cat(dk.EncapsulationKey().Bytes(), pkT), decap: func(t testing.TB, enc []byte) []byte {
			if len(enc) != mlkem.CiphertextSize768+32 {
				t.Fatalf("enc is %d bytes", len(enc))
			}
			ctPQ, ctT := enc[:mlkem.CiphertextSize768], enc[mlkem.CiphertextSize768:]
			ssPQ, err := dk.Decapsulate(ctPQ)
			must.NoError(t, err)
			pe, err := ecdh.X25519().NewPublicKey(ctT)
			must.NoError(t, err)
			ssT, err := skT.ECDH(pe)
			must.NoError(t, err)
			ss := sha3.Sum256(cat(ssPQ, ssT, ctT, pkT, xwingLabel))
			return ss[:]
		}}
	}
	t.Fatalf("suite %s does not encrypt", s)
	return specKey{}
}

// specExport is the HPKE base-mode key schedule (RFC 9180 section 5.1) with
// info HPKEInfo, followed by Export(exporterContext, n) (section 5.3).
func specExport(t testing.TB, s keys.Suite, sharedSecret []byte, exporterContext string, n int) []byte {
	kemID := map[keys.Suite]int{keys.SuiteX25519: kemX25519, keys.SuiteMLKEM768X25519: kemXWing}[s]
	suiteID := cat([]byte("HPKE"), i2osp2(kemID), i2osp2(kdfHKDFSHA256), i2osp2(aeadChaCha))
	pskIDHash := labeledExtract(t, suiteID, nil, "psk_id_hash", nil)
	infoHash := labeledExtract(t, suiteID, nil, "info_hash", []byte(HPKEInfo))
	ctx := cat([]byte{0}, pskIDHash, infoHash)
	secret := labeledExtract(t, suiteID, sharedSecret, "secret", nil)
	exporterSecret := labeledExpand(t, suiteID, secret, "exp", ctx, 32)
	return labeledExpand(t, suiteID, exporterSecret, "sec", []byte(exporterContext), n)
}

// checkSuiteAsSpecified checks that the key derived from ikm as the
// specification says is the documented one, that its key id is as specified,
// that decapsulating enc gives the documented shared secret, and that the
// HPKE context crypto/hpke sets up from that key and enc is the one the
// specification's key schedule gives (compared through an exported secret).
func checkSuiteAsSpecified(t *testing.T, s keys.Suite, ikm, private, public, kid, enc, sharedSecret []byte) {
	k := specDeriveKey(t, s, ikm)
	if !bytes.Equal(k.private, private) || !bytes.Equal(k.public, public) {
		t.Fatal("the key pair derived as specified is not the documented one")
	}
	if sum := sha256.Sum256(k.public); !bytes.Equal(sum[:8], kid) {
		t.Fatal("the recipient key id is not as specified")
	}
	ss := k.decap(t, enc)
	if !bytes.Equal(ss, sharedSecret) {
		t.Fatalf("shared secret %x, documented %x", ss, sharedSecret)
	}
	hk, err := s.KEM().DeriveKeyPair(ikm)
	must.NoError(t, err)
	r, err := hpke.NewRecipient(enc, hk, s.KDF(), s.AEAD(), []byte(HPKEInfo))
	must.NoError(t, err)
	const label = "edgegw specification check"
	got, err := r.Export(label, 32)
	must.NoError(t, err)
	if want := specExport(t, s, ss, label, 32); !bytes.Equal(got, want) {
		t.Fatalf("crypto/hpke exports %x, the specified key schedule %x", got, want)
	}
}

// kemSharedSecret returns the KEM shared secret of a documented vector, as
// the specification computes it.
func kemSharedSecret(t testing.TB, s keys.Suite, ikm, enc []byte) string {
	return fmt.Sprintf("%x", specDeriveKey(t, s, ikm).decap(t, enc))
}
