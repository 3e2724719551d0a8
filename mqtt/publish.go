package mqtt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// ClientConfig is the connection of a short-lived operations client, such as
// `edgegw config push`: one connection, no reconnects.
type ClientConfig struct {
	// Broker is the broker URL (ssl://, tls:// or mqtts://; port 8883 when
	// omitted).
	Broker string
	// CA is the PEM file of the CA that signed the broker's certificate.
	CA string
	// Cert is the PEM file of the client certificate (the ops identity).
	Cert string
	// Key is the PEM file of the client key, mode 0600.
	Key string
	// ClientID is the MQTT client identifier; when empty, a random
	// "edgegw-ops-<hex>" so that concurrent runs do not take over each
	// other's connection.
	ClientID string
}

// Message is one publish of PublishRetained.
type Message struct {
	// Topic is the topic name; it must not contain a wildcard.
	Topic string
	// Payload is the message body.
	Payload []byte
}

// barrierTopic is unsubscribed from after the publishes: the UNSUBACK is a
// round trip that proves the broker kept the connection open after handling
// every publish before it.
const barrierTopic = "edgegw/ops/barrier"

// PublishRetained connects once with cfg, publishes every message retained
// with QoS 1 and waits for the broker's PUBACKs until ctx is done, then
// disconnects. It returns an error when the configuration is bad or the
// connection fails; otherwise one error per message (nil once acknowledged),
// in the order of msgs.
//
// MQTT 3.1.1 has no negative acknowledgement: a broker acknowledges a publish
// its ACL refuses and drops it (Mosquitto then closes the connection). After
// the PUBACKs, PublishRetained therefore makes one more round trip; when the
// broker closed the connection instead of answering, every message is
// reported as unconfirmed. A broker that drops a refused publish and keeps
// the connection open cannot be detected by the client.
func PublishRetained(ctx context.Context, cfg ClientConfig, msgs []Message) ([]error, error) {
	if len(msgs) == 0 {
		return nil, errors.New("mqtt: publish: no messages")
	}
	for _, m := range msgs {
		if m.Topic == "" || strings.ContainsAny(m.Topic, "+#\x00") {
			return nil, fmt.Errorf("mqtt: publish: invalid topic %q", m.Topic)
		}
	}
	c, err := connectOnce(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Disconnect(Quiesce)

	toks := make([]paho.Token, len(msgs))
	for i, m := range msgs {
		toks[i] = c.Publish(m.Topic, 1, true, m.Payload)
	}
	errs := make([]error, len(msgs))
	acked := 0
	for i, tok := range toks {
		if errs[i] = wait(ctx, tok); errs[i] == nil {
			acked++
		} else {
			errs[i] = fmt.Errorf("publish %s: %w", msgs[i].Topic, errs[i])
		}
	}
	if acked == 0 {
		return errs, nil
	}
	if err := wait(ctx, c.Unsubscribe(barrierTopic)); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("publish %s: acknowledged, but the broker then closed the connection (did its ACL refuse a publish?): %w", msgs[i].Topic, err)
			}
		}
	}
	return errs, nil
}

// connectOnce connects a clean-session client without retries.
func connectOnce(ctx context.Context, cfg ClientConfig) (paho.Client, error) {
	dial, host, err := BrokerURL(cfg.Broker)
	if err != nil {
		return nil, err
	}
	tc, err := TLSConfig(cfg.Broker, host, cfg.CA, cfg.Cert, cfg.Key)
	if err != nil {
		return nil, err
	}
	id := cfg.ClientID
	if id == "" {
		var b [6]byte
		rand.Read(b[:])
		id = "edgegw-ops-" + hex.EncodeToString(b[:])
	}
	timeout := ConnectTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(0, time.Until(d)))
	}
	c := paho.NewClient(paho.NewClientOptions().
		AddBroker(dial).
		SetClientID(id).
		SetTLSConfig(tc).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(DefaultKeepAlive).
		SetConnectTimeout(timeout).
		SetWriteTimeout(WriteTimeout))
	if err := wait(ctx, c.Connect()); err != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("mqtt: connect to %s: %w", cfg.Broker, err)
	}
	return c, nil
}

// wait waits for tok until ctx is done.
func wait(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return fmt.Errorf("no answer from the broker: %w", context.Cause(ctx))
	}
}
