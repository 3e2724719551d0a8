package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/edgegw/edgegw/gateway/config"
	"golang.org/x/sys/unix"
)

// Limits of the server.
const (
	// MaxBodyBytes bounds a request body, in bytes.
	MaxBodyBytes = 4 << 10
	// MaxWatchers bounds the concurrent watch streams.
	MaxWatchers = 8
	// MaxAuditLimit bounds the limit of GET /v1/audit; DefaultAuditLimit is
	// its default.
	MaxAuditLimit     = 1000
	DefaultAuditLimit = 50
	// callTimeout bounds one agent call (a device read, a flush).
	callTimeout = 30 * time.Second
	// streamWriteTimeout drops a watch client that stops reading.
	streamWriteTimeout = 10 * time.Second
	// shutdownTimeout bounds the wait for calls in flight when Serve stops.
	shutdownTimeout = 5 * time.Second
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Roles names the groups of the roles and how they are looked up.
	Roles Roles
	// Authorize decides the role of a caller from its kernel-verified
	// credentials, once per connection; nil means Roles.Role. It is the one
	// seam between credentials and roles.
	Authorize func(cred unix.Ucred) (Role, error)
	// Logger logs what cannot be returned to a caller; nil discards.
	Logger *slog.Logger
	// Now is the clock of audit events; nil means time.Now.
	Now func() time.Time
}

// Server serves the control API to local callers. Create it with NewServer.
type Server struct {
	agent     Agent
	audit     Auditor
	roles     Roles
	authorize func(unix.Ucred) (Role, error)
	log       *slog.Logger
	now       func() time.Time
	watchers  chan struct{}
	routes    map[string]http.HandlerFunc // "METHOD /path"
}

// NewServer returns a server exposing agent, recording to audit.
func NewServer(agent Agent, audit Auditor, opts Options) *Server {
	s := &Server{
		agent:     agent,
		audit:     audit,
		roles:     opts.Roles,
		authorize: opts.Authorize,
		log:       opts.Logger,
		now:       opts.Now,
		watchers:  make(chan struct{}, MaxWatchers),
	}
	if s.authorize == nil {
		s.authorize = s.roles.Role
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.routes = map[string]http.HandlerFunc{
		"GET /v1/whoami":        s.whoami,
		"GET /v1/status":        s.status,
		"GET /v1/watch":         s.watch,
		"GET /v1/audit":         s.trail,
		"POST /v1/read":         s.read,
		"POST /v1/buffer/flush": s.flush,
		"GET /v1/buffer/export": s.export,
		"POST /v1/log-level":    s.logLevel,
		"POST /v1/config/apply": s.applyConfig,
	}
	return s
}

// Serve serves the API on a Unix socket at path (DefaultSocket when empty)
// until ctx is done, then stops accepting, lets calls in flight finish for
// a few seconds, ends watch streams, removes the socket and returns nil.
//
// It creates the socket's directory (mode 0750) when it is missing, replaces
// a stale socket left by a crash, refuses to replace anything else or a
// socket another process still serves, and creates the socket with mode 0660
// (atomically: bound under a temporary name, then renamed). When the viewer
// group exists and the process may, the socket's group is set to it, so that
// the group's members can connect.
func (s *Server) Serve(ctx context.Context, path string) error {
	if path == "" {
		path = DefaultSocket
	}
	ln, err := s.listen(path)
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	err = s.serveListener(ctx, ln)
	ln.Close()
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	return nil
}

func (s *Server) listen(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
		if err := os.Chmod(dir, 0o750); err != nil {
			return nil, err
		}
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("exists and is not a socket (%s); not replacing it", fi.Mode().Type())
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, errors.New("another process is serving it (is another agent running?)")
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".sock%d", os.Getpid()))
	os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false)
	err = os.Chmod(tmp, 0o660)
	if err == nil {
		s.chownViewer(tmp)
		err = os.Rename(tmp, path)
	}
	if err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, err
	}
	return ln, nil
}

// chownViewer gives the socket to the viewer group when it exists.
func (s *Server) chownViewer(path string) {
	lookup := s.roles.LookupGroup
	if lookup == nil {
		lookup = lookupGroup
	}
	gid, err := lookup(s.roles.group(RoleViewer))
	if err != nil {
		return
	}
	if fi, err := os.Stat(path); err == nil {
		if st, ok := fi.Sys().(*unix.Stat_t); ok && st.Gid == gid {
			return
		}
	}
	if err := os.Chown(path, -1, int(gid)); err != nil {
		s.log.Warn("cannot give the control socket to the viewer group; only the agent's own group can connect", "err", err)
	}
}

// peer is the caller on one connection, as the kernel reported it at
// connect time.
type peer struct {
	cred    unix.Ucred
	process string
	role    Role
	err     error // credentials or role could not be decided: deny all
}

type peerKey struct{}

func (s *Server) connContext(ctx context.Context, c net.Conn) context.Context {
	p := &peer{}
	if uc, ok := c.(*net.UnixConn); ok {
		p.cred, p.err = PeerCred(uc)
	} else {
		p.err = errors.New("not a unix socket connection")
	}
	if p.err == nil {
		p.process = procName(p.cred.Pid)
		p.role, p.err = s.authorize(p.cred)
	}
	if p.err != nil {
		p.role = RoleNone
	}
	return context.WithValue(ctx, peerKey{}, p)
}

func peerOf(ctx context.Context) *peer {
	if p, ok := ctx.Value(peerKey{}).(*peer); ok {
		return p
	}
	return &peer{err: errors.New("no peer credentials")}
}

// PeerCred returns the credentials the kernel recorded for the process at
// the other end of c when it connected (SO_PEERCRED).
func PeerCred(c *net.UnixConn) (unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return unix.Ucred{}, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return unix.Ucred{}, err
	}
	if cerr != nil {
		return unix.Ucred{}, fmt.Errorf("SO_PEERCRED: %w", cerr)
	}
	return *cred, nil
}

// record writes one audit event for p.
func (s *Server) record(p *peer, action string, args map[string]string, result string) error {
	return s.audit.Record(Event{
		Time:    s.now(),
		UID:     int(p.cred.Uid),
		GID:     int(p.cred.Gid),
		PID:     int(p.cred.Pid),
		Process: p.process,
		Role:    p.role.String(),
		Action:  action,
		Args:    args,
		Result:  result,
	})
}

// allow returns the caller when its role is at least need. Otherwise it
// records the denial, answers 403 and returns nil.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, action string, need Role, args map[string]string) *peer {
	p := peerOf(r.Context())
	if p.err == nil && p.role >= need {
		return p
	}
	group := "group " + s.roles.group(need)
	if need == RoleAdmin {
		group += " or root"
	}
	msg := fmt.Sprintf("%s needs the %s role (%s); you are %s", action, need, group, p.role)
	result := "denied: needs " + need.String()
	if p.err != nil {
		msg = fmt.Sprintf("%s denied: cannot verify your credentials: %v", action, p.err)
		result = "denied: " + p.err.Error()
	}
	if err := s.record(p, action, args, result); err != nil {
		s.auditFailed(w, action, err)
		return nil
	}
	writeError(w, http.StatusForbidden, msg)
	return nil
}

// change runs a call that changes something (or acts on a device): it
// records the attempt first (no change without an audit record), runs fn,
// records the outcome and answers fn's value.
func (s *Server) change(w http.ResponseWriter, p *peer, action string, args map[string]string, fn func() (any, error)) {
	if err := s.record(p, action, args, "started"); err != nil {
		s.auditFailed(w, action, err)
		return
	}
	v, err := fn()
	result := "ok"
	if err != nil {
		result = "error: " + err.Error()
	}
	if rerr := s.record(p, action, args, result); rerr != nil {
		s.log.Error("cannot record the outcome of a control call in the audit trail", "err", rerr)
		if err == nil {
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("%s was done, but recording its outcome in the audit trail failed: %v", action, rerr))
			return
		}
	}
	if err != nil {
		writeAgentError(w, action, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) auditFailed(w http.ResponseWriter, action string, err error) {
	writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("%s not done: the audit trail cannot record it: %v", action, err))
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	p := peerOf(r.Context())
	if p.err != nil {
		writeError(w, http.StatusForbidden, "cannot verify your credentials: "+p.err.Error())
		return
	}
	writeJSON(w, http.StatusOK, Caller{UID: int(p.cred.Uid), GID: int(p.cred.Gid), PID: int(p.cred.Pid), Process: p.process, Role: p.role.String()})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if s.allow(w, r, "status", RoleViewer, nil) == nil {
		return
	}
	st := s.agent.Status()
	if st.Devices == nil {
		st.Devices = []DeviceStatus{}
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) trail(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("limit")
	if s.allow(w, r, "audit.show", RoleViewer, args("limit", q)) == nil {
		return
	}
	limit := DefaultAuditLimit
	if q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > MaxAuditLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want a number from 1 to %d", clip(q), MaxAuditLimit))
			return
		}
		limit = n
	}
	events, err := s.audit.Trail(limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "read the audit trail: "+err.Error())
		return
	}
	if events == nil {
		events = []Event{}
	}
	writeJSON(w, http.StatusOK, auditResponse{Events: events})
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request) {
	device := r.URL.Query().Get("device")
	if s.allow(w, r, "watch", RoleViewer, args("device", device)) == nil {
		return
	}
	if device != "" && !config.ValidName(device) {
		writeError(w, http.StatusBadRequest, badDevice(device))
		return
	}
	select {
	case s.watchers <- struct{}{}:
		defer func() { <-s.watchers }()
	default:
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("too many watch streams (%d); try again later", MaxWatchers))
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	polls, err := s.agent.Watch(ctx, device)
	if err != nil {
		writeAgentError(w, "watch", err)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	enc := json.NewEncoder(w)
	for {
		select {
		case <-ctx.Done():
			return
		case rs, ok := <-polls:
			if !ok {
				return
			}
			rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			if enc.Encode(Poll{Readings: wireReadings(rs)}) != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

func (s *Server) read(w http.ResponseWriter, r *http.Request) {
	var req readRequest
	p := s.allowBody(w, r, "device.read", RoleTechnician, &req, MaxBodyBytes, func() map[string]string { return args("device", req.Device) })
	if p == nil {
		return
	}
	if !config.ValidName(req.Device) {
		writeError(w, http.StatusBadRequest, badDevice(req.Device))
		return
	}
	s.change(w, p, "device.read", args("device", req.Device), func() (any, error) {
		ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
		defer cancel()
		rs, err := s.agent.Read(ctx, req.Device)
		return readResponse{Readings: wireReadings(rs)}, err
	})
}

func (s *Server) flush(w http.ResponseWriter, r *http.Request) {
	p := s.allow(w, r, "buffer.flush", RoleTechnician, nil)
	if p == nil {
		return
	}
	s.change(w, p, "buffer.flush", nil, func() (any, error) {
		ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
		defer cancel()
		if err := s.agent.Flush(ctx); err != nil {
			return nil, err
		}
		return s.agent.Status().Buffer, nil
	})
}

// export streams the buffer's closed batches as newline-delimited JSON
// ExportItems, the signed manifest last (or an error item). It is audited
// like a change: the sealed backlog leaves the box.
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	p := s.allow(w, r, "buffer.export", RoleTechnician, nil)
	if p == nil {
		return
	}
	if err := s.record(p, "buffer.export", nil, "started"); err != nil {
		s.auditFailed(w, "buffer.export", err)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	n := 0
	manifest, err := s.agent.Export(r.Context(), func(b ExportedBatch) error {
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		n++
		return enc.Encode(ExportItem{Batch: &b})
	})
	result := fmt.Sprintf("ok: %d batches", n)
	item := ExportItem{Manifest: manifest}
	if err != nil {
		result, item = "error: "+err.Error(), ExportItem{Error: err.Error()}
	}
	if rerr := s.record(p, "buffer.export", nil, result); rerr != nil {
		s.log.Error("cannot record the outcome of a control call in the audit trail", "err", rerr)
	}
	enc.Encode(item)
}

// MaxConfigBytes bounds the configuration file of a config apply call.
const MaxConfigBytes = 1 << 20

// applyConfig applies a configuration file as a local override (admin). The
// agent runs it on probation like a pushed one; fleet operations see the
// new version and hash in the gateway's config status.
func (s *Server) applyConfig(w http.ResponseWriter, r *http.Request) {
	var req applyRequest
	p := s.allowBody(w, r, "config.apply", RoleAdmin, &req, MaxConfigBytes, func() map[string]string { return nil })
	if p == nil {
		return
	}
	s.change(w, p, "config.apply", args("bytes", fmt.Sprint(len(req.Config))), func() (any, error) {
		ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
		defer cancel()
		v, err := s.agent.ApplyConfig(ctx, []byte(req.Config))
		return applyResponse{Version: v}, err
	})
}

// LogLevels are the levels SetLogLevel accepts.
var LogLevels = []string{"debug", "info", "warn", "error"}

func (s *Server) logLevel(w http.ResponseWriter, r *http.Request) {
	var req logLevelRequest
	p := s.allowBody(w, r, "log.level", RoleTechnician, &req, MaxBodyBytes, func() map[string]string { return args("level", req.Level) })
	if p == nil {
		return
	}
	ok := false
	for _, l := range LogLevels {
		ok = ok || req.Level == l
	}
	if !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("log level %q: want debug, info, warn or error", clip(req.Level)))
		return
	}
	s.change(w, p, "log.level", args("level", req.Level), func() (any, error) {
		return logLevelRequest{Level: req.Level}, s.agent.SetLogLevel(req.Level)
	})
}

func (s *Server) device(w http.ResponseWriter, r *http.Request) {
	name, op := r.PathValue("name"), r.PathValue("op")
	if op != "enable" && op != "disable" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
		return
	}
	action := "device." + op
	p := s.allow(w, r, action, RoleTechnician, args("device", name))
	if p == nil {
		return
	}
	if !config.ValidName(name) {
		writeError(w, http.StatusBadRequest, badDevice(name))
		return
	}
	enabled := op == "enable"
	s.change(w, p, action, args("device", name), func() (any, error) {
		return DeviceState{Device: name, Enabled: enabled}, s.agent.SetDeviceEnabled(name, enabled)
	})
}

func badDevice(name string) string {
	return fmt.Sprintf("bad device name %q: want %s", clip(name), config.NamePattern)
}

// args returns audit arguments, leaving out an empty value.
// allowBody decodes the request's body, of at most limit bytes, into v,
// then authorizes action for need (see allow) with the audit arguments
// args returns of what was decoded. It answers the request and returns nil
// when either fails; a refusal comes before a malformed body, so that a
// caller without the role learns nothing of the checks.
func (s *Server) allowBody(w http.ResponseWriter, r *http.Request, action string, need Role, v any, limit int64, args func() map[string]string) *peer {
	derr := decodeN(w, r, v, limit)
	p := s.allow(w, r, action, need, args())
	if p == nil {
		return nil
	}
	if derr != nil {
		writeDecodeError(w, derr)
		return nil
	}
	return p
}

func args(key, value string) map[string]string {
	if value == "" {
		return nil
	}
	return map[string]string{key: clip(value)}
}

// clip bounds a caller-supplied string kept in a message or the audit trail.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// decodeN decodes one JSON object of at most n bytes into v, refusing
// unknown fields and trailing data.
func decodeN(w http.ResponseWriter, r *http.Request, v any, n int64) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, n))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.Decode(new(json.RawMessage)) != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func writeDecodeError(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", MaxBodyBytes))
		return
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("empty body")
	}
	writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
}

func writeAgentError(w http.ResponseWriter, action string, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrUnknownDevice):
		code = http.StatusNotFound
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	writeError(w, code, action+": "+err.Error())
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorResponse{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
