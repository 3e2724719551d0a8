package uplink_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/gateway/uplink"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

const waitTimeout = 30 * time.Second

// memSource is an in-memory Source that records what was acknowledged.
type memSource struct {
	mu      sync.Mutex
	batches []buffer.Batch // ascending seq
	next    uint64
	acked   []uint64
}

// add appends n batches of class with readings readings each and chunkSize
// byte chunks, and returns the last seq.
func (s *memSource) add(n int, class string, chunkSize int) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.next++
		s.batches = append(s.batches, buffer.Batch{
			Seq:      s.next,
			Class:    class,
			Header:   []byte("hdr"),
			Chunks:   [][]byte{bytes.Repeat([]byte{byte(s.next)}, chunkSize)},
			Trailer:  []byte("sig"),
			Readings: 100,
		})
	}
	return s.next
}

// hold takes batch seq out of the source, as if it were still open, and
// returns a function that puts it back, as if it were sealed now.
func (s *memSource) hold(seq uint64) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.batches, func(b buffer.Batch) bool { return b.Seq == seq })
	b := s.batches[i]
	s.batches = slices.Delete(s.batches, i, i+1)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.batches = append(s.batches, b)
		slices.SortFunc(s.batches, func(x, y buffer.Batch) int { return cmpU(x.Seq, y.Seq) })
	}
}

func (s *memSource) Next(after uint64, max int) ([]buffer.Batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.batches, after+1, func(b buffer.Batch, seq uint64) int {
		return cmpU(b.Seq, seq)
	})
	end := min(len(s.batches), i+max)
	return slices.Clone(s.batches[i:end]), nil
}

func (s *memSource) Ack(seqs ...uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = append(s.acked, seqs...)
	s.batches = slices.DeleteFunc(s.batches, func(b buffer.Batch) bool { return slices.Contains(seqs, b.Seq) })
	return nil
}

func (s *memSource) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

func (s *memSource) ackedSeqs() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acked)
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// marshal is the test wire format: the seq (8 bytes big endian), then the
// header, chunks and trailer.
func marshal(b buffer.Batch) []byte {
	out := binary.BigEndian.AppendUint64(nil, b.Seq)
	out = append(out, b.Header...)
	for _, c := range b.Chunks {
		out = append(out, c...)
	}
	return append(out, b.Trailer...)
}

func seqOf(payload []byte) uint64 {
	if len(payload) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(payload)
}

// received collects messages from a subscriber and counts data deliveries
// by sequence number.
// receive subscribes the backend's session to topic, clean or persistent,
// and returns what it receives.
func receive(t testing.TB, br *mqtttest.Broker, session string, clean bool, topic string) *received {
	t.Helper()
	rx := &received{}
	subscribe(t, br, br.Backend, session, clean, []string{topic}, rx.handle)
	return rx
}

type received struct {
	mqtttest.Inbox
	mu   sync.Mutex
	seqs map[uint64]int // data seq -> deliveries
}

func (r *received) handle(topic string, payload []byte) {
	r.Handle(topic, payload)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seqs == nil {
		r.seqs = map[uint64]int{}
	}
	if bytes.Contains([]byte(topic), []byte("/data/")) {
		r.seqs[seqOf(payload)]++
	}
}

func (r *received) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seqs)
}

func (r *received) has(seq uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seqs[seq] > 0
}

func eventually(t *testing.T, what string, cond func() bool) { mqtttest.Eventually(t, what, cond) }

func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("UPLINK_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
}

func integration(t testing.TB) *mqtttest.Broker {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped with -short")
	}
	return mqtttest.Start(t, mqtttest.Options{Prefix: "city"})
}

// startPublisher runs a publisher for gateway id with cn's certificate; it is
// stopped when the test ends.
func startPublisher(t testing.TB, br *mqtttest.Broker, broker, id string, src uplink.Source, deps uplink.Deps, mutate func(*uplink.Config)) (*uplink.Publisher, context.CancelFunc, *runResult) {
	t.Helper()
	certFile, keyFile := br.Client(t, id)
	cfg := uplink.Config{
		Broker: broker, CA: br.CAFile, Cert: certFile, Key: keyFile,
		TopicPrefix: br.Prefix, GatewayID: id,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		HealthInterval: -1,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	if deps.Marshal == nil {
		deps.Marshal = marshal
	}
	if deps.Logger == nil {
		deps.Logger = testLogger(t).With("driver", "publisher")
	}
	p, err := uplink.New(cfg, src, deps)
	must.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	res := &runResult{done: make(chan struct{})}
	go func() {
		res.err = p.Run(ctx)
		close(res.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-res.done:
		case <-time.After(waitTimeout):
			t.Error("publisher did not stop")
		}
	})
	return p, cancel, res
}

// runResult is what Run returned, once done is closed.
type runResult struct {
	done chan struct{}
	err  error
}

func subscribe(t testing.TB, br *mqtttest.Broker, cn, clientID string, clean bool, topics []string, handle func(string, []byte)) {
	t.Helper()
	mqtttest.Subscribe(t, br, cn, clientID, clean, topics, testLogger(t), handle)
}

// rawClient connects a bare paho client as cn, for misbehaving peers.
func rawClient(t testing.TB, br *mqtttest.Broker, cn, clientID string) paho.Client {
	t.Helper()
	certFile, keyFile := br.Client(t, cn)
	caPEM, err := os.ReadFile(br.CAFile)
	must.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	must.NoError(t, err)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(br.URL).SetClientID(clientID).
		SetProtocolVersion(4).SetAutoReconnect(false).
		SetConnectionLostHandler(func(_ paho.Client, err error) { t.Logf("raw client %s: connection lost: %v", clientID, err) }).
		SetTLSConfig(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}))
	waitToken(t, c.Connect())
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func waitToken(t testing.TB, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(waitTimeout) {
		t.Fatal("token timed out")
	}
	must.NoError(t, tok.Error())
}
