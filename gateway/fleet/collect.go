package fleet

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/topic"
)

// StatusRow is one gateway's configuration status as the broker retains
// it, or why it has none.
type StatusRow struct {
	Gateway string  `json:"gateway"`
	Status  *Status `json:"status,omitempty"`
	// Error is set when the gateway's status message is invalid; a gateway
	// with neither Status nor Error sent nothing.
	Error string `json:"error,omitempty"`
}

// Collect is where and for how long CollectStatus listens.
type Collect struct {
	// Client is the operations identity's connection: broker, TLS files,
	// client id, logger. CollectStatus sets its topics and session.
	Client   mqtt.SubscribeConfig
	Prefix   string
	Gateways []string      // wait for these; every gateway heard within Timeout when empty
	Timeout  time.Duration // how long to listen at most
}

// CollectStatus subscribes to the gateways' retained configuration
// statuses and returns one row per gateway heard from, and per gateway of
// c.Gateways, sorted by gateway id. It returns when every gateway of
// c.Gateways answered, or when c.Timeout passed; it fails when the
// subscription was not made within it.
func CollectStatus(parent context.Context, c Collect) ([]StatusRow, error) {
	topics := []string{topic.Filter(c.Prefix, topic.KindConfigStatus)}
	if len(c.Gateways) > 0 {
		topics = topics[:0]
		for _, id := range c.Gateways {
			topics = append(topics, topic.ConfigStatus(c.Prefix, id))
		}
	}
	ctx, cancel := context.WithTimeout(parent, c.Timeout)
	defer cancel()

	var mu sync.Mutex
	rows := map[string]*StatusRow{}
	for _, id := range c.Gateways {
		rows[id] = &StatusRow{Gateway: id}
	}
	answered := func() bool {
		for _, id := range c.Gateways {
			if r := rows[id]; r.Status == nil && r.Error == "" {
				return false
			}
		}
		return len(c.Gateways) > 0
	}
	subscribed := make(chan struct{})
	var once sync.Once
	handle := func(t string, payload []byte) {
		// A message proves the subscription; it may precede OnSubscribe.
		once.Do(func() { close(subscribed) })
		id, ok := statusGateway(c.Prefix, t)
		if !ok || len(payload) == 0 { // an empty retained message clears a status
			return
		}
		r := &StatusRow{Gateway: id}
		s, err := ParseStatus(payload)
		switch {
		case err != nil:
			r.Error = err.Error()
		case s.Gateway != id:
			r.Error = fmt.Sprintf("status on %s claims gateway %q", t, s.Gateway)
		default:
			r.Status = &s
		}
		mu.Lock()
		defer mu.Unlock()
		rows[id] = r
		if answered() {
			cancel()
		}
	}
	sc := c.Client
	sc.Topics, sc.CleanSession = topics, true
	if sc.BackoffMax == 0 {
		sc.BackoffMax = time.Second
	}
	sc.OnSubscribe = func() { once.Do(func() { close(subscribed) }) }
	if err := mqtt.Subscribe(ctx, sc, handle); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	select {
	case <-subscribed:
	default:
		if err := parent.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("status: not subscribed to %s within %v: broker unreachable, or it refused the certificate", sc.Broker, c.Timeout)
	}
	mu.Lock()
	defer mu.Unlock()
	out := make([]StatusRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Gateway < out[j].Gateway })
	return out, nil
}

// statusGateway returns the gateway id of a configuration status topic
// under prefix, and false when t is not one or its gateway id is invalid.
func statusGateway(prefix, t string) (string, bool) {
	p, err := topic.ParseUnder(prefix, t)
	if err != nil || p.Kind != topic.KindConfigStatus || keys.CheckGatewayID(p.Gateway) != nil {
		return "", false
	}
	return p.Gateway, true
}
