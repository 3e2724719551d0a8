package mqtttest

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/poll"
	"github.com/edgegw/edgegw/mqtt"
)

// WaitTimeout bounds every wait of the helpers below.
const WaitTimeout = 20 * time.Second

// Message is one message an Inbox received.
type Message struct {
	Topic   string
	Payload []byte
}

// Inbox collects the messages of a subscriber; Handle is its handler.
type Inbox struct {
	mu   sync.Mutex
	msgs []Message
}

// Handle records one message.
func (in *Inbox) Handle(topic string, payload []byte) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.msgs = append(in.msgs, Message{topic, slices.Clone(payload)})
}

// Snapshot returns the messages received so far.
func (in *Inbox) Snapshot() []Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.msgs)
}

// Has reports whether a message with this topic and payload arrived.
func (in *Inbox) Has(topic, payload string) bool {
	return slices.ContainsFunc(in.Snapshot(), func(m Message) bool { return m.Topic == topic && string(m.Payload) == payload })
}

// Eventually polls cond until it holds, or fails the test after WaitTimeout.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, WaitTimeout, what, cond)
}

// Subscribe runs mqtt.Subscribe as cn on br and returns once the first
// subscription is acknowledged; it is stopped when the test ends. log may be
// nil.
func Subscribe(t testing.TB, br *Broker, cn, clientID string, clean bool, topics []string, log *slog.Logger, handle func(string, []byte)) {
	t.Helper()
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	certFile, keyFile := br.Client(t, cn)
	ready := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- mqtt.Subscribe(ctx, mqtt.SubscribeConfig{
			Broker: br.URL, CA: br.CAFile, Cert: certFile, Key: keyFile,
			ClientID: clientID, Topics: topics, CleanSession: clean,
			BackoffMax: 200 * time.Millisecond,
			OnSubscribe: func() {
				select {
				case ready <- struct{}{}:
				default:
				}
			},
			Logger: log.With("driver", "subscriber", "device", clientID),
		}, handle)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("subscribe: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("subscribe returned early: %v", err)
	case <-time.After(WaitTimeout):
		t.Fatal("subscription not acknowledged")
	}
}
