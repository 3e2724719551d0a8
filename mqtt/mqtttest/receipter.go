package mqtttest

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/receipt"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/topic"
)

// Receipter stands in for `edgegw ingest` where a test needs a backend that
// keeps up without a database: as the broker's ingest identity it takes every
// gateway's data and audit, and every interval publishes, retained, a
// receipt signed by signer covering each sequence number that accept took.
type Receipter struct {
	mu   sync.Mutex
	seqs map[string]map[uint64]bool // gateway -> sequence numbers taken
}

// StartReceipter runs a Receipter on br until the test ends. accept returns
// the gateway and sequence number of an envelope, or an error that fails
// the test.
func StartReceipter(t testing.TB, br *Broker, signer *keys.Identity, interval time.Duration, accept func(topic string, payload []byte) (string, uint64, error)) *Receipter {
	t.Helper()
	r := &Receipter{seqs: map[string]map[uint64]bool{}}
	cert, key := br.Client(t, br.Ingest)
	ready := make(chan struct{})
	var once sync.Once
	c, err := mqtt.Dial(context.Background(), mqtt.SubscribeConfig{
		Broker: br.URL, CA: br.CAFile, Cert: cert, Key: key, ClientID: "receipter", CleanSession: true,
		Topics:      topic.Filters(br.Prefix, "", topic.KindData, topic.KindAudit),
		OnSubscribe: func() { once.Do(func() { close(ready) }) },
	}, func(tp string, payload []byte) {
		gw, seq, err := accept(tp, payload)
		if err != nil {
			t.Errorf("receipter: %s: %v", tp, err)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.seqs[gw] == nil {
			r.seqs[gw] = map[uint64]bool{}
		}
		r.seqs[gw][seq] = true
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	case <-time.After(WaitTimeout):
		c.Close()
		t.Fatal("receipter not subscribed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, gw := range r.gateways() {
				data, err := receipt.Sign(signer, receipt.FromSet(gw, r.Committed(gw), time.Now()))
				if err != nil {
					t.Error(err)
					return
				}
				pctx, pcancel := context.WithTimeout(ctx, WaitTimeout)
				c.Publish(pctx, topic.Receipt(br.Prefix, gw), data, true) // a failed publish is retried at the next tick
				pcancel()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done; c.Close() })
	return r
}

func (r *Receipter) gateways() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.seqs))
}

// Committed returns the sequence numbers of gateway taken so far, as
// ascending, merged ranges.
func (r *Receipter) Committed(gateway string) [][2]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var set [][2]uint64
	for _, seq := range slices.Sorted(maps.Keys(r.seqs[gateway])) {
		if n := len(set); n > 0 && set[n-1][1]+1 == seq {
			set[n-1][1] = seq
		} else {
			set = append(set, [2]uint64{seq, seq})
		}
	}
	return set
}
