package mqtt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// SubscribeConfig configures Subscribe, the backend side of the uplink.
type SubscribeConfig struct {
	// Broker is the broker URL (ssl://, tls:// or mqtts://).
	Broker string
	// CA is the PEM file of the CA that signed the broker's certificate.
	CA string
	// Cert is the PEM file of the client certificate (the backend identity).
	Cert string
	// Key is the PEM file of the client key, mode 0600.
	Key string
	// ClientID is the MQTT client identifier. Required: a persistent session
	// is found again by it.
	ClientID string
	// Topics are the topic filters to subscribe to, all with QoS 1.
	Topics []string
	// CleanSession, when true, starts a fresh session on each connection.
	// The default, false, keeps a persistent session on the broker so that
	// nothing published while the backend is away (or while the broker
	// restarts, if it persists) is lost.
	CleanSession bool
	// KeepAlive is the MQTT keep-alive interval; DefaultKeepAlive when zero.
	KeepAlive time.Duration
	// BackoffMax caps paho's reconnect backoff (which starts at 1 s);
	// 30 s when zero.
	BackoffMax time.Duration
	// OnSubscribe, when set, is called after each successful subscription
	// (the first one and the one after every reconnect).
	OnSubscribe func()
	// Logger receives the subscriber's logs; nothing is logged when nil.
	Logger *slog.Logger
}

// Subscribe connects to the broker, subscribes to cfg.Topics with QoS 1 and
// calls handle for every message, one at a time in arrival order, until ctx
// is done. A message is acknowledged once handle returns. It reconnects and
// subscribes again by itself. It returns an error only for a bad
// configuration; when ctx is done it disconnects and returns nil.
func Subscribe(ctx context.Context, cfg SubscribeConfig, handle func(topic string, payload []byte)) error {
	c, err := Dial(ctx, cfg, handle)
	if err != nil {
		return err
	}
	<-ctx.Done()
	c.Close()
	return nil
}

// Client is a subscriber that can also publish on its connection, as the
// backend does with its receipts. Create it with Dial.
type Client struct {
	c   paho.Client
	cfg SubscribeConfig
	log *slog.Logger
}

// Dial starts a Subscribe-like client in the background and returns at once:
// it connects, reconnects and subscribes again by itself, calling handle for
// every message, one at a time in arrival order, until Close. ctx bounds the
// subscription waits. It returns an error only for a bad configuration.
func Dial(ctx context.Context, cfg SubscribeConfig, handle func(topic string, payload []byte)) (*Client, error) {
	dial, host, err := BrokerURL(cfg.Broker)
	if err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("mqtt: subscribe to %s: empty client id", cfg.Broker)
	}
	if len(cfg.Topics) == 0 {
		return nil, fmt.Errorf("mqtt: subscribe to %s: no topics", cfg.Broker)
	}
	if handle == nil {
		return nil, errors.New("mqtt: subscribe: nil handler")
	}
	tc, err := TLSConfig(cfg.Broker, host, cfg.CA, cfg.Cert, cfg.Key)
	if err != nil {
		return nil, err
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	filters := make(map[string]byte, len(cfg.Topics))
	for _, t := range cfg.Topics {
		filters[t] = 1
	}

	opts := paho.NewClientOptions().
		AddBroker(dial).
		SetClientID(cfg.ClientID).
		SetTLSConfig(tc).
		SetProtocolVersion(4).
		SetCleanSession(cfg.CleanSession).
		SetOrderMatters(true).
		SetResumeSubs(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(min(time.Second, cfg.BackoffMax)).
		SetMaxReconnectInterval(cfg.BackoffMax).
		SetKeepAlive(cfg.KeepAlive).
		SetPingTimeout(min(cfg.KeepAlive, 10*time.Second)).
		SetConnectTimeout(ConnectTimeout).
		SetWriteTimeout(WriteTimeout).
		// Messages of a persistent session may arrive before the SUBSCRIBE
		// is acknowledged; the default handler takes them all.
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			handle(m.Topic(), m.Payload())
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			log.Warn("connection lost", "addr", cfg.Broker, "err", err)
		}).
		SetOnConnectHandler(func(c paho.Client) {
			log.Info("connected", "addr", cfg.Broker)
			tok := c.SubscribeMultiple(filters, nil)
			select {
			case <-tok.Done():
			case <-ctx.Done():
				return
			}
			if err := tok.Error(); err != nil {
				log.Warn("subscribe failed", "addr", cfg.Broker, "err", err)
				return
			}
			if st, ok := tok.(*paho.SubscribeToken); ok {
				for topic, qos := range st.Result() {
					if qos == 0x80 {
						log.Warn("subscription refused", "topic", topic)
					}
				}
			}
			if cfg.OnSubscribe != nil {
				cfg.OnSubscribe()
			}
		})
	c := paho.NewClient(opts)
	c.Connect() // retries by itself until connected or disconnected
	return &Client{c: c, cfg: cfg, log: log}, nil
}

// Publish publishes payload to topic with QoS 1 and waits for the broker's
// PUBACK until ctx is done. While the client is disconnected it fails at
// once: the caller decides whether to publish again later.
func (c *Client) Publish(ctx context.Context, topic string, payload []byte, retained bool) error {
	if !c.c.IsConnectionOpen() {
		return fmt.Errorf("mqtt: publish to %s on %s: not connected", topic, c.cfg.Broker)
	}
	if err := wait(ctx, c.c.Publish(topic, 1, retained, payload)); err != nil {
		return fmt.Errorf("mqtt: publish to %s on %s: %w", topic, c.cfg.Broker, err)
	}
	return nil
}

// Connected reports whether the client is connected now.
func (c *Client) Connected() bool { return c.c.IsConnectionOpen() }

// Close disconnects, letting paho finish its work for a moment.
func (c *Client) Close() {
	c.c.Disconnect(Quiesce)
	c.log.Info("disconnected", "addr", c.cfg.Broker)
}
