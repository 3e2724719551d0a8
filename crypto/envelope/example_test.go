package envelope_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
)

// exampleKeys generates the two key pairs an envelope needs: the gateway's
// Ed25519 signing identity and the data class's HPKE recipient key. In
// service they come from files (keys.LoadIdentity on the gateway,
// keys.LoadRecipientPublic there and keys.LoadRecipientPrivate on the
// backend; `edgegw keys` writes them).
func exampleKeys() (*keys.Identity, *keys.RecipientPrivate) {
	_, sk, err := ed25519.GenerateKey(nil)
	if err != nil {
		log.Fatal(err)
	}
	k, err := keys.SuiteX25519.KEM().GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	rk, err := keys.NewRecipientPrivate(keys.SuiteX25519, k)
	if err != nil {
		log.Fatal(err)
	}
	return &keys.Identity{ID: "jb-0417", Key: sk}, rk
}

// A gateway seals two polls into a batch for the telemetry recipient and
// signs it; the backend parses the envelope, verifies the signature against
// the gateway's pinned key and opens the readings with its private key.
func Example() {
	identity, recipient := exampleKeys()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

	// Gateway: open a batch sealed to the recipient's public key, fix its
	// sequence number, seal each poll's readings as one chunk, then sign.
	batch, err := envelope.NewBatch(recipient.Public(), identity.ID, "telemetry", 3, t0)
	if err != nil {
		log.Fatal(err)
	}
	header, err := batch.Header(42)
	if err != nil {
		log.Fatal(err)
	}
	var chunks [][]byte
	for i, t := range []float64{21.5, 21.75} {
		poll := []reading.Reading{
			{Device: "env", Channel: "t", Value: t, Unit: reading.Celsius, Time: t0.Add(time.Duration(i) * 10 * time.Second)},
		}
		chunk, err := batch.Seal(poll)
		if err != nil {
			log.Fatal(err)
		}
		chunks = append(chunks, chunk)
	}
	trailer, err := envelope.Sign(identity, header, chunks)
	if err != nil {
		log.Fatal(err)
	}
	wire := envelope.Marshal(header, chunks, trailer) // what goes over MQTT

	// Backend: parse, verify against the pinned gateway key, open.
	trust := envelope.NewTrust(identity.Public())
	env, err := envelope.Parse(wire)
	if err != nil {
		log.Fatal(err)
	}
	if err := env.Verify(trust); err != nil {
		log.Fatal(err)
	}
	rs, err := env.Open(recipient)
	if err != nil {
		log.Fatal(err)
	}
	h := env.Header
	fmt.Printf("gateway %s seq %d class %s config %d suite %s, %d chunks\n", h.GatewayID, h.Seq, h.Class, h.ConfigVersion, h.Suite, len(env.Chunks))
	for _, r := range rs {
		fmt.Printf("%s %s %s = %.2f %s\n", r.Time.Format(time.RFC3339), r.Device, r.Channel, r.Value, r.Unit)
	}
	// Output:
	// gateway jb-0417 seq 42 class telemetry config 3 suite x25519, 2 chunks
	// 2026-05-01T12:00:00Z env t = 21.50 Cel
	// 2026-05-01T12:00:10Z env t = 21.75 Cel
}

// A gateway that drops batches deliberately (its buffer limit was reached)
// reports them in a signed gap record; the backend verifies and reads it. A
// copy altered on the way fails verification with a stable reason that a
// backend can count.
func ExampleGapHeader() {
	identity, _ := exampleKeys()
	created := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

	// Gateway: batches 40 to 44 were dropped.
	header, err := envelope.GapHeader(identity.ID, 45, 3, created)
	if err != nil {
		log.Fatal(err)
	}
	chunks, err := envelope.GapChunks(envelope.Gap{FromSeq: 40, ToSeq: 44, Batches: 5, Readings: 600, Reason: "max-bytes"})
	if err != nil {
		log.Fatal(err)
	}
	trailer, err := envelope.Sign(identity, header, chunks)
	if err != nil {
		log.Fatal(err)
	}
	wire := envelope.Marshal(header, chunks, trailer)
	altered := bytes.Replace(wire, []byte("max-bytes"), []byte("max-files"), 1)

	// Backend.
	trust := envelope.NewTrust(identity.Public())
	for _, w := range [][]byte{wire, altered} {
		env, err := envelope.Parse(w)
		if err != nil {
			log.Fatal(err)
		}
		err = env.Verify(trust)
		var rej *envelope.RejectError
		if errors.As(err, &rej) {
			fmt.Println("rejected:", rej.Reason)
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		g, err := env.Gap()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("gateway %s dropped batches %d-%d (%d readings): %s\n", env.Header.GatewayID, g.FromSeq, g.ToSeq, g.Readings, g.Reason)
	}
	// Output:
	// gateway jb-0417 dropped batches 40-44 (600 readings): max-bytes
	// rejected: bad-signature
}
