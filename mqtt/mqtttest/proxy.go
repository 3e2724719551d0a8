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

func (p *Proxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
}

func (p *Proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.track(in)
		p.track(out)
		go pipe(in, out)
		go pipe(out, in)
	}
}

func pipe(dst, src net.Conn) {
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}
