package fleetsim

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/ingest"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/mqtt/topic"
)

// Constants of the simulated gateways.
const (
	configVersion = 3
	version       = "1.4.0-sim"
	device        = "aq-1"
	class         = "telemetry" // the data class of every batch
	publishWait   = time.Minute // for a PUBACK
	// prefix is the topic prefix of the broker's ACL and the gateways: the
	// ingest's default, which the simulation keeps.
	prefix = ingest.DefaultTopicPrefix
)

// offlineDoc is the last will every gateway sets, as the agent does.
var offlineDoc = []byte(`{"state":"offline"}`)

// gateway is one simulated gateway: its identity, its one MQTT connection,
// and its schedule.
type gateway struct {
	id     *keys.Identity
	signer *keys.Identity // id, or from a WrongKey fault on an identity the ingest does not pin
	phase  time.Duration  // offset of its batches within a batch delay
	plan   *Plan          // nil for a well-behaved gateway

	c    paho.Client
	conn net.Conn // the connection, closed by an Offline fault

	seq         uint64
	polls       uint64
	lastOK      time.Time
	faulted     bool // the fault started
	offline     bool
	healthBytes uint64
	healthN     uint64
	mu          sync.Mutex // guards conn
}

// dial connects without reconnects, with the agent's last will.
func (g *gateway) dial(broker string, tc *tls.Config) error {
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID(g.id.ID).SetTLSConfig(tc).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetKeepAlive(5*time.Minute).SetOrderMatters(false).SetConnectTimeout(time.Minute).SetWriteTimeout(time.Minute).
		SetBinaryWill(topic.Health(prefix, g.id.ID), offlineDoc, 1, true).
		SetCustomOpenConnectionFn(func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
			d := tls.Dialer{Config: o.TLSConfig, NetDialer: &net.Dialer{Timeout: o.ConnectTimeout}}
			c, err := d.Dial("tcp", uri.Host)
			if err == nil {
				g.mu.Lock()
				g.conn = c
				g.mu.Unlock()
			}
			return c, err
		})
	g.c = paho.NewClient(opts)
	if tok := g.c.Connect(); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		return fmt.Errorf("connect: %v", tok.Error())
	}
	return nil
}

// step publishes what is due at now (elapsed since the start) and applies
// the fault when its time comes. It returns the envelopes and documents
// published, and 1 when the broker is to publish the gateway's last will.
func (g *gateway) step(s *Sim, now time.Time, elapsed time.Duration) (data, docs, will int, err error) {
	if g.offline {
		return 0, 0, 0, nil
	}
	o := s.o
	fault := None
	if g.plan != nil && !now.Before(g.plan.At) {
		fault = g.plan.Fault
		if !g.faulted {
			g.faulted = true
			switch fault {
			case Offline:
				g.mu.Lock()
				err := g.conn.Close()
				g.mu.Unlock()
				g.offline = true
				g.plan.LastGood = now
				return 0, 0, 1, err
			case WrongKey:
				_, priv, err := ed25519.GenerateKey(rand.Reader)
				if err != nil {
					return 0, 0, 0, err
				}
				g.signer = &keys.Identity{ID: g.id.ID, Key: priv}
				if b, err := s.Fleet.Show(s.t.Context(), g.id.ID); err == nil {
					g.plan.LastGood = b.Box.LastCommitted
				}
			case Stale:
				g.plan.LastGood = g.lastOK
			case Gap:
				g.seq += 3 // 3 sequence numbers never sent
			case RolledBack:
				cs := fleet.ConfigStatus{Version: configVersion + 1, State: "rolled-back", Reason: "probation: broker unreachable with the new configuration", Time: now}
				if err := g.publish(topic.ConfigStatus(prefix, g.id.ID), true, mustJSON(cs)); err != nil {
					return 0, 0, 0, err
				}
				docs++
			}
		}
	}
	// The device polls on its interval, on the tick grid.
	if elapsed%o.DeviceInterval == 0 {
		g.polls++
		if fault != Stale {
			g.lastOK = now
		}
	}
	due := (elapsed-g.phase)%o.Thresholds.BatchDelay == 0
	if !due {
		return 0, docs, 0, nil
	}
	// Health with every batch that crosses a health interval, before the
	// batch, as the agent's uplink loop does.
	if elapsed/o.Thresholds.HealthInterval != (elapsed-o.Thresholds.BatchDelay)/o.Thresholds.HealthInterval {
		body := g.health(now, fault)
		if err := g.publish(topic.Health(prefix, g.id.ID), true, body); err != nil {
			return 0, docs, 0, err
		}
		g.healthBytes += uint64(len(body))
		g.healthN++
		docs++
	}
	wire, err := g.batch(s.rcpt, now, o.Thresholds.BatchDelay, o.DeviceInterval, fault)
	if err != nil {
		return 0, docs, 0, err
	}
	if err := g.publish(topic.Data(prefix, g.id.ID, class), false, wire); err != nil {
		return 0, docs, 0, err
	}
	return 1, docs, 0, nil
}

// publish publishes with QoS 1 and waits for the PUBACK.
func (g *gateway) publish(t string, retained bool, payload []byte) error {
	tok := g.c.Publish(t, 1, retained, payload)
	if !tok.WaitTimeout(publishWait) {
		return fmt.Errorf("publish %s: no PUBACK within %v", t, publishWait)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("publish %s: %w", t, err)
	}
	return nil
}

// health returns its health document (docs/health.md) at now.
func (g *gateway) health(now time.Time, fault Fault) []byte {
	dv := fleet.HealthDevice{Polls: g.polls, LastOK: g.lastOK}
	if fault == Stale {
		dv.Errors = g.polls // errors since are counted as polls; only the count's growth matters here
		dv.LastError = "i2c: no ack from 0x69"
	}
	h := fleet.Health{Gateway: g.id.ID, Version: version, ConfigVersion: configVersion, ClockSynced: true,
		Devices: map[string]fleet.HealthDevice{device: dv}}
	return mustJSON(h)
}

// batch returns the signed envelope of the polls of the last batch delay
// up to now: one sealed chunk per poll, of pm25 and co2; the fault shows in
// the readings of the polls from its start on.
func (g *gateway) batch(rcpt *keys.RecipientPublic, now time.Time, delay, interval time.Duration, fault Fault) ([]byte, error) {
	g.seq++
	from := now.Add(-delay)
	b, err := envelope.NewBatch(rcpt, g.id.ID, class, configVersion, from)
	if err != nil {
		return nil, err
	}
	h, err := b.Header(g.seq)
	if err != nil {
		return nil, err
	}
	var chunks [][]byte
	for at := from.Add(interval).Truncate(interval); !at.After(now); at = at.Add(interval) {
		rs := []reading.Reading{
			{Device: device, Channel: "pm25", Unit: "ug/m3", Value: 5 + float64(g.seq%7), Time: at},
			{Device: device, Channel: "co2", Unit: "ppm", Value: 420 + float64(g.seq%13), Time: at},
		}
		f := fault
		if g.plan != nil && at.Before(g.plan.At) {
			f = None // polled before the fault started
		}
		for i := range rs {
			switch f {
			case Stuck:
				rs[i].Value, rs[i].Flags = 9, reading.Stuck
			case Stale:
				rs[i].Value, rs[i].Flags = 0, reading.ReadError
			}
		}
		c, err := b.Seal(rs)
		if err != nil {
			return nil, err
		}
		chunks = append(chunks, c)
	}
	tr, err := envelope.Sign(g.signer, h, chunks)
	if err != nil {
		return nil, err
	}
	return envelope.Marshal(h, chunks, tr), nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the documents are plain structs
	}
	return b
}
