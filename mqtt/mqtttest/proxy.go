package mqtttest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to a target address and can cut them
// abruptly, the way a dead link does: the broker sees the connection end
// without an MQTT DISCONNECT and publishes the client's last will.
type Proxy struct {
	// Addr is the proxy's "127.0.0.1:<port>".
	Addr string
	// URL is "ssl://" + Addr. The broker's certificate names 127.0.0.1, so
	// TLS verifies through the proxy.
	URL string

	target string
	ln     net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	down   bool
}

// NewProxy listens on a free loopback port and forwards to target. It is
// closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{
		Addr:   ln.Addr().String(),
		URL:    "ssl://" + ln.Addr().String(),
		target: target,
		ln:     ln,
		conns:  map[net.Conn]struct{}{},
	}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Kill()
	})
	return p
}

// Kill closes every forwarded connection at once, with a TCP reset.
func (p *Proxy) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
		delete(p.conns, c)
	}
}

// SetDown cuts every forwarded connection and refuses new ones while down
// is true, as a link that is down does; SetDown(false) forwards again.
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
	if down {
		p.Kill()
	}
}

// track records c, or closes it and reports false while the link is down.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(in) {
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		if !p.track(out) {
			in.Close()
			continue
		}
		go pipe(in, out)
		go pipe(out, in)
	}
}

func pipe(dst, src net.Conn) {
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}
