package fleetweb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/edgegw/edgegw/backend/fleet"
)

// Deps holds what the pages read and serve.
type Deps struct {
	Fleet *fleet.Fleet // computes the states; its Store and Now are used too
	// Token, when not empty, is the bearer token every request must carry
	// (Authorization: Bearer <token>).
	Token []byte
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
	Logger  *slog.Logger // nothing is logged when nil
}

// minToken is the shortest bearer token accepted from a token file, in bytes.
const minToken = 16

// Timeouts of the server.
const (
	readTimeout     = 10 * time.Second
	writeTimeout    = 30 * time.Second
	idleTimeout     = 2 * time.Minute
	shutdownTimeout = 5 * time.Second
)

// Handler returns the pages: / (the overview, with the query parameters
// state and group as filters), /box/{gateway} and /metrics. It answers GET
// and HEAD only (405 otherwise), and 401 to a request without the bearer
// token when one is set.
func Handler(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	p := &pages{fleet: d.Fleet, log: d.Logger}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.overview)
	mux.HandleFunc("GET /box/{gateway}", p.box)
	if d.Metrics != nil {
		mux.Handle("GET /metrics", d.Metrics)
	}
	var want [32]byte
	if len(d.Token) > 0 {
		want = sha256.Sum256(d.Token)
	}
	return compressed(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'")
		if len(d.Token) > 0 {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				h.Set("WWW-Authenticate", `Bearer realm="edgegw fleet"`)
				http.Error(w, "a bearer token is required (Authorization: Bearer <token>)", http.StatusUnauthorized)
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "read-only: GET and HEAD only", http.StatusMethodNotAllowed)
			return
		}
		mux.ServeHTTP(w, r)
	}))
}

// Server is the fleet page's listener.
type Server struct {
	ln  net.Listener
	srv *http.Server
	url string
}

// Listen binds cfg.Listen and prepares the server: it loads the TLS
// certificate and the bearer token the configuration names. A token file
// must hold at least 16 bytes (surrounding white space ignored) and be
// readable by its owner only.
func Listen(cfg Config, d Deps) (*Server, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("fleet web: %w", err)
	}
	if cfg.TokenFile != "" {
		tok, err := readToken(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("fleet web: %w", err)
		}
		d.Token = tok
	}
	var tlsCfg *tls.Config
	if cfg.Cert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Cert, cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("fleet web: http.cert, http.key: %w", err)
		}
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("fleet web: http.listen: %w", err)
	}
	scheme := "http"
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
		scheme = "https"
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{ln: ln, url: scheme + "://" + ln.Addr().String() + "/"}
	s.srv = &http.Server{
		Handler: Handler(d), ReadHeaderTimeout: readTimeout, ReadTimeout: readTimeout, WriteTimeout: writeTimeout,
		IdleTimeout: idleTimeout, MaxHeaderBytes: 16 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// readToken reads a bearer token file.
func readToken(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("http.token_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("http.token_file: %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("http.token_file: %w", err)
	}
	tok := bytes.TrimSpace(data)
	if len(tok) < minToken {
		return nil, fmt.Errorf("http.token_file: %s holds %d bytes, fewer than %d", path, len(tok), minToken)
	}
	return tok, nil
}

// URL returns the address the server answers at, e.g. http://127.0.0.1:8480/.
func (s *Server) URL() string { return s.url }

// Close stops the server at once; for a server that will not Serve.
func (s *Server) Close() error { return s.ln.Close() }

// Serve answers requests until ctx is done, then shuts down, letting
// requests in progress finish for a few seconds.
func (s *Server) Serve(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if s.srv.Shutdown(sctx) != nil {
			s.srv.Close()
		}
	}()
	err := s.srv.Serve(s.ln)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("fleet web: %w", err)
}
