package control

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Limits of one control connection. A connection carries one call: the
// server answers with "Connection: close" and closes it.
const (
	maxHeaderBytes    = 8 << 10
	readHeaderTimeout = 5 * time.Second
	readBodyTimeout   = 10 * time.Second
	writeTimeout      = callTimeout + 10*time.Second
	// maxDrainBytes is what is read of a body a handler left unread, so
	// that the caller sees the answer rather than a broken pipe.
	maxDrainBytes = 256 << 10
)

// serveListener answers calls on ln until ctx is done, then stops
// accepting, waits up to shutdownTimeout for the calls in flight and closes
// what is left (watch streams end with their request's context, which is
// ctx's). It returns nil after ctx is done, or the error that stopped
// accepting.
//
// The control API needs one call per connection over HTTP/1.1 and nothing
// of http.Server's keep-alive, HTTP/2 or TLS: the requests are parsed and
// the answers framed by net/http's own ReadRequest and Header, which the MQTT
// client links anyway, while http.Server would add more than 500 KB to a
// gateway's binary.
func (s *Server) serveListener(ctx context.Context, ln net.Listener) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	for delay := time.Duration(0); ; {
		c, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() != nil {
				break
			}
			if !errors.Is(aerr, syscall.EMFILE) && !errors.Is(aerr, syscall.ENFILE) && !errors.Is(aerr, syscall.ECONNABORTED) {
				err = aerr
				break
			}
			// Out of file descriptors, or a caller gone before it was
			// accepted: back off as http.Server does, and try again.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("control socket: accept failed; retrying", "err", aerr, "in", delay)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			continue
		}
		delay = 0
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownTimeout):
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		<-done
	}
	return err
}

// serveConn reads one request from c, answers it and closes c.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	ctx, cancel := context.WithCancel(s.connContext(ctx, c))
	defer cancel()
	limit := &io.LimitedReader{R: c, N: maxHeaderBytes}
	br := bufio.NewReader(limit)
	c.SetReadDeadline(time.Now().Add(readHeaderTimeout))
	req, err := http.ReadRequest(br)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			code := http.StatusBadRequest
			if limit.N <= 0 {
				code = http.StatusRequestHeaderFieldsTooLarge
			}
			s.answerError(c, code, "bad request: "+err.Error())
		}
		return
	}
	limit.N = 1<<63 - 1 // bodies are bounded by each handler
	c.SetReadDeadline(time.Now().Add(readBodyTimeout))
	c.SetWriteDeadline(time.Now().Add(writeTimeout))
	if req.Body == http.NoBody {
		// Nothing more is expected: a read that ends is the caller
		// hanging up, which ends a watch stream.
		c.SetReadDeadline(time.Time{})
		go func() {
			io.Copy(io.Discard, c)
			cancel()
		}()
	} else if strings.EqualFold(req.Header.Get("Expect"), "100-continue") {
		io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
	}
	w := newResponse(c)
	func() {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("control call panicked", "method", req.Method, "path", req.URL.Path, "panic", p)
				w.failed = true
			}
		}()
		s.handler(req)(w, req.WithContext(ctx))
	}()
	if w.failed {
		return
	}
	w.finish()
	io.CopyN(io.Discard, req.Body, maxDrainBytes)
}

// handler returns the handler of r's method and path.
func (s *Server) handler(r *http.Request) http.HandlerFunc {
	if h, ok := s.routes[r.Method+" "+r.URL.Path]; ok {
		return h
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/v1/devices/"); ok && r.Method == http.MethodPost {
		if name, op, ok := strings.Cut(rest, "/"); ok && name != "" && op != "" && !strings.Contains(op, "/") {
			r.SetPathValue("name", name)
			r.SetPathValue("op", op)
			return s.device
		}
	}
	return func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	}
}

// answerError answers a request that could not be read.
func (s *Server) answerError(c net.Conn, code int, msg string) {
	c.SetWriteDeadline(time.Now().Add(readHeaderTimeout))
	w := newResponse(c)
	writeError(w, code, msg)
	w.finish()
	// What the caller sent beyond the point of failure is read and
	// dropped: a Unix socket closed with unread data resets the
	// connection, and the caller would see that instead of the answer.
	if uc, ok := c.(*net.UnixConn); ok {
		uc.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(readHeaderTimeout))
	io.CopyN(io.Discard, c, maxDrainBytes)
}

// response is the http.ResponseWriter of one call. It holds the body until
// the handler returns, then sends it with its Content-Length; a handler
// that flushes (a stream) sends the header at once and the body as it
// comes, ended by closing the connection.
type response struct {
	conn   net.Conn
	bw     *bufio.Writer
	header http.Header
	code   int
	body   bytes.Buffer
	sent   bool // the header is on its way; the body goes straight to bw
	failed bool // the handler panicked: close without an answer
	err    error
}

// newResponse returns the response writer of a call on c.
func newResponse(c net.Conn) *response {
	return &response{conn: c, bw: bufio.NewWriter(c), header: http.Header{}}
}

// Header implements http.ResponseWriter.
func (w *response) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter; only the first code counts.
func (w *response) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

// Write implements http.ResponseWriter.
func (w *response) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if !w.sent {
		return w.body.Write(p)
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	w.err = err
	return n, err
}

// FlushError sends the header and what the body holds so far; the answer
// becomes a stream (http.ResponseController.Flush calls it).
func (w *response) FlushError() error {
	if !w.sent {
		w.sendHeader(-1)
		w.sent = true
		w.Write(w.body.Bytes())
		w.body.Reset()
	}
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	return w.err
}

// SetWriteDeadline sets the connection's write deadline (for
// http.ResponseController).
func (w *response) SetWriteDeadline(t time.Time) error { return w.conn.SetWriteDeadline(t) }

// finish sends what the handler wrote.
func (w *response) finish() {
	if !w.sent {
		w.sendHeader(w.body.Len())
		w.bw.Write(w.body.Bytes())
	}
	if w.err == nil {
		w.bw.Flush()
	}
}

// sendHeader writes the status line and the header; length < 0 means the
// body ends when the connection closes.
func (w *response) sendHeader(length int) {
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w.bw, "HTTP/1.1 %d %s\r\n", w.code, http.StatusText(w.code))
	if length >= 0 {
		w.header.Set("Content-Length", strconv.Itoa(length))
	}
	w.header.Set("Connection", "close")
	w.header.Write(w.bw)
	w.bw.WriteString("\r\n")
}
