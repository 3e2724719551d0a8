package demo

import (
	"crypto/ecdsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
)

// gatewaySecrets returns every 32-byte secret the gateway holds, by name:
// its Ed25519 seed, the X25519 scalar derived from it, and its TLS client
// key's scalar. A thief with the SD card has exactly these.
func gatewaySecrets(f *files) (map[string][]byte, error) {
	id, err := keys.LoadIdentity(f.keys)
	if err != nil {
		return nil, err
	}
	seed := id.Key.Seed()
	h := sha512.Sum512(seed)
	pemBytes, err := os.ReadFile(f.gwKey)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("demo: %s: no PEM block", f.gwKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		var ecErr error
		if k, ecErr = x509.ParseECPrivateKey(block.Bytes); ecErr != nil {
			return nil, fmt.Errorf("demo: %s: %w", f.gwKey, errors.Join(err, ecErr))
		}
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("demo: %s is not an ECDSA key", f.gwKey)
	}
	scalar, err := ec.Bytes()
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return map[string][]byte{
		"identity.key seed":       seed,
		"identity.key as X25519":  h[:32],
		"client.key (TLS) scalar": scalar,
	}, nil
}

// bufferCheck tries to open every sealed batch of the buffer snapshot with
// HPKE keys made from each secret the gateway holds, trial-decrypting the
// first chunk (the key id check is bypassed on purpose so that the AEAD
// itself decides). It returns the line to print and an error if anything
// opened.
func bufferCheck(snapshot string, f *files) (string, error) {
	secrets, err := gatewaySecrets(f)
	if err != nil {
		return "", err
	}
	st, err := buffer.OpenBolt(snapshot, buffer.Options{})
	if err != nil {
		return "", err
	}
	defer st.Close()
	batches, err := st.Next(0, 1<<20)
	if err != nil {
		return "", err
	}
	trust, err := envelope.LoadTrust(filepath.Join(f.keys, "identity.pub"))
	if err != nil {
		return "", err
	}
	var tried, opened, chunks int
	for _, b := range batches {
		env, err := envelope.Parse(envelope.Marshal(b.Header, b.Chunks, b.Trailer))
		if err != nil {
			return "", err
		}
		if !env.Header.Suite.Encrypted() {
			continue
		}
		if err := env.Verify(trust); err != nil {
			return "", err
		}
		chunks += len(b.Chunks)
		for _, secret := range secrets {
			k, err := env.Header.Suite.KEM().NewPrivateKey(secret)
			if err != nil {
				continue // not a valid key of this suite at all
			}
			rk, err := keys.NewRecipientPrivate(env.Header.Suite, k)
			if err != nil {
				continue
			}
			env.Header.RecipientKID = rk.KID() // make Open try this key
			tried++
			if _, err := env.Open(rk); err == nil || backend.Reason(err) != envelope.ReasonDecryptFailed {
				opened++
			}
		}
	}
	line := fmt.Sprintf("demo: buffer file (snapshot during the outage: %d sealed batches, %d chunks): %d of %d decryption attempts with the gateway's own keys (identity.key, client.key) succeeded; only the backend's recipient keys open it",
		len(batches), chunks, opened, tried)
	if len(batches) == 0 || tried == 0 {
		return line, errors.New("demo: the buffer snapshot held no sealed batch to test")
	}
	if opened > 0 {
		return line, errors.New("demo: the gateway could decrypt its own buffer")
	}
	return line, nil
}
