package demo

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"

	"github.com/edgegw/edgegw/mqtt/topic"
)

// broker is the demo's embedded MQTT broker: TLS with client certificates on
// loopback only, each client confined to the topics of its certificate's
// identity, sessions persisted in a bbolt file so that a restart keeps the
// backend's queued messages.
type broker struct {
	addr  string
	tls   *tls.Config
	store string
	srv   *mqtt.Server
}

// start starts (or restarts) the broker.
func (b *broker) start() error {
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(identityACL), nil); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if err := srv.AddHook(new(bolt.Hook), &bolt.Options{Path: b.store, Options: &bbolt.Options{}}); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tls", Address: b.addr, TLSConfig: b.tls})); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if err := srv.Serve(); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	b.srv = srv
	return nil
}

// stop stops the broker, dropping every connection.
func (b *broker) stop() error {
	if b.srv == nil {
		return nil
	}
	err := b.srv.Close()
	b.srv = nil
	return err
}

// identityACL admits only clients with a verified certificate and lets each
// read and write under city/<CN>/ only; the identity "backend" may read every
// gateway's data and health topics.
type identityACL struct{ mqtt.HookBase }

func (h *identityACL) ID() string { return "identity-acl" }

func (h *identityACL) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

// OnConnectAuthenticate admits a client with a verified certificate and
// makes its certificate's CN its user name, whatever CONNECT said, so that
// the ACL also applies to a persistent session restored while its client is
// away.
func (h *identityACL) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	id := identity(cl)
	cl.Properties.Username = []byte(id)
	return id != ""
}

// OnACLCheck is the ACL of docs/operations.md: the ingest reads every
// gateway's data, audit and health (through a shared subscription too) and
// writes their receipts; a gateway uses its own topics, and only reads its
// config/set and its receipt.
func (h *identityACL) OnACLCheck(cl *mqtt.Client, name string, write bool) bool {
	id := string(cl.Properties.Username)
	parts := strings.Split(name, "/")
	if id == "ingest" {
		if len(parts) > 2 && parts[0] == "$share" {
			parts = parts[2:]
		}
		if len(parts) < 3 || parts[0] != "city" {
			return false
		}
		if write {
			return len(parts) == 3 && parts[2] == string(topic.KindReceipt)
		}
		switch topic.Kind(parts[2]) {
		case topic.KindData, topic.KindHealth, topic.KindAudit:
			return true
		}
		return false
	}
	if id == "" || len(parts) < 3 || parts[0] != "city" || parts[1] != id {
		return false
	}
	switch topic.Kind(strings.Join(parts[2:], "/")) {
	case topic.KindConfigSet, topic.KindReceipt:
		return !write
	case topic.KindHealth, topic.KindAudit, topic.KindConfigStatus:
		return true
	default:
		return parts[2] == string(topic.KindData)
	}
}

// identity returns the CN of the client's verified certificate, or "".
func identity(cl *mqtt.Client) string {
	tc, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return ""
	}
	chains := tc.ConnectionState().VerifiedChains
	if len(chains) == 0 || len(chains[0]) == 0 {
		return ""
	}
	return chains[0][0].Subject.CommonName
}

// serverTLS returns the broker's TLS configuration: its certificate, client
// certificates required and verified against ca.
func serverTLS(certPEM, keyPEM, caPEM []byte) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("broker certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("broker: no CA certificate in PEM")
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}
