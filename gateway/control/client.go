package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// DefaultCallTimeout bounds a Client call whose context has no deadline.
const DefaultCallTimeout = callTimeout + 10*time.Second

// ErrStreamEnded is returned by Client.Watch when the agent ends the stream
// (it stopped or restarted).
var ErrStreamEnded = errors.New("the agent ended the stream")

// Error is an error answered by the server, with its message.
type Error struct {
	// Status is the HTTP status code, e.g. 403 or 404.
	Status int
	// Message is the server's explanation.
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is matches ErrDenied for 403 and ErrNotFound for 404.
func (e *Error) Is(target error) bool {
	return target == ErrDenied && e.Status == http.StatusForbidden ||
		target == ErrNotFound && e.Status == http.StatusNotFound
}

// Client calls the control API of a running agent. It connects anew for
// each call, so it needs no closing.
type Client struct {
	path string
}

// Dial returns a client of the agent listening on the Unix socket at path
// (DefaultSocket when empty). It does not connect until the first call.
func Dial(path string) *Client {
	if path == "" {
		path = DefaultSocket
	}
	return &Client{path: path}
}

// Path returns the socket path the client connects to.
func (c *Client) Path() string { return c.path }

// WhoAmI returns how the agent sees the caller: its credentials and role.
func (c *Client) WhoAmI(ctx context.Context) (Caller, error) {
	var v Caller
	err := c.call(ctx, http.MethodGet, "/v1/whoami", nil, &v)
	return v, err
}

// Status returns the gateway's state (viewer).
func (c *Client) Status(ctx context.Context) (Status, error) {
	var v Status
	err := c.call(ctx, http.MethodGet, "/v1/status", nil, &v)
	return v, err
}

// Read polls one device now and returns its readings (technician).
func (c *Client) Read(ctx context.Context, device string) ([]Reading, error) {
	var v readResponse
	err := c.call(ctx, http.MethodPost, "/v1/read", readRequest{Device: device}, &v)
	return v.Readings, err
}

// Flush closes the open batches so that they are published, and returns
// the buffer's state after it (technician).
func (c *Client) Flush(ctx context.Context) (BufferStatus, error) {
	var v BufferStatus
	err := c.call(ctx, http.MethodPost, "/v1/buffer/flush", nil, &v)
	return v, err
}

// SetLogLevel sets the agent's log level: debug, info, warn or error
// (technician).
func (c *Client) SetLogLevel(ctx context.Context, level string) error {
	return c.call(ctx, http.MethodPost, "/v1/log-level", logLevelRequest{Level: level}, nil)
}

// ApplyConfig applies a configuration file as a local override (admin) and
// returns its version, now on probation.
func (c *Client) ApplyConfig(ctx context.Context, yaml []byte) (uint64, error) {
	var resp applyResponse
	err := c.call(ctx, http.MethodPost, "/v1/config/apply", applyRequest{Config: string(yaml)}, &resp)
	return resp.Version, err
}

// SetDeviceEnabled resumes or stops polling a device (technician).
func (c *Client) SetDeviceEnabled(ctx context.Context, device string, enabled bool) error {
	op := "disable"
	if enabled {
		op = "enable"
	}
	return c.call(ctx, http.MethodPost, "/v1/devices/"+url.PathEscape(device)+"/"+op, nil, nil)
}

// Audit returns the newest limit events of the audit trail, oldest first
// (viewer); limit 0 means the server's default.
func (c *Client) Audit(ctx context.Context, limit int) ([]Event, error) {
	p := "/v1/audit"
	if limit != 0 {
		p += "?limit=" + strconv.Itoa(limit)
	}
	var v auditResponse
	err := c.call(ctx, http.MethodGet, p, nil, &v)
	return v.Events, err
}

// Export streams the buffer's closed batches to fn and returns the signed
// manifest that ends the export.
func (c *Client) Export(ctx context.Context, fn func(ExportedBatch) error) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodGet, "/v1/buffer/export", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var it ExportItem
		if err := dec.Decode(&it); err != nil {
			return nil, fmt.Errorf("export from %s ended early: %w", c.path, err)
		}
		switch {
		case it.Error != "":
			return nil, &Error{Status: http.StatusInternalServerError, Message: it.Error}
		case it.Batch != nil:
			if err := fn(*it.Batch); err != nil {
				return nil, err
			}
		default:
			return it.Manifest, nil
		}
	}
}

// Watch calls fn with each poll of device (of every device when device is
// empty) as the agent makes them, until ctx is done (it then returns nil),
// fn returns an error (returned), or the agent ends the stream
// (ErrStreamEnded).
func (c *Client) Watch(ctx context.Context, device string, fn func(Poll) error) error {
	p := "/v1/watch"
	if device != "" {
		p += "?device=" + url.QueryEscape(device)
	}
	resp, err := c.do(ctx, http.MethodGet, p, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var poll Poll
		if err := dec.Decode(&poll); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return ErrStreamEnded
			}
			return fmt.Errorf("watch: %w", err)
		}
		if err := fn(poll); err != nil {
			return err
		}
	}
}

// call does one request with a JSON body in (when not nil) and decodes the
// answer into out (when not nil).
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCallTimeout)
		defer cancel()
	}
	resp, err := c.do(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: bad answer: %w", method, path, err)
	}
	return nil
}

// do sends a request and returns a 200 response, or an error carrying the
// server's message.
func (c *Client) do(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://edgegw"+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.roundTrip(req)
	if err != nil {
		return nil, c.connError(err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e errorResponse
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		e.Error = fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	return nil, &Error{Status: resp.StatusCode, Message: e.Error}
}

// roundTrip sends req on a connection of its own and reads the answer's
// header within DefaultCallTimeout; the body, which may be a long stream,
// is read until the request's context ends. A control call needs neither
// connection reuse nor HTTP/2, so the client does without http.Transport,
// which a gateway's binary would otherwise carry only for it.
func (c *Client) roundTrip(req *http.Request) (*http.Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(req.Context(), "unix", c.path)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(req.Context(), func() { conn.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		conn.Close()
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
	req.Close = true
	if err := req.Write(conn); err != nil {
		return fail(err)
	}
	conn.SetReadDeadline(time.Now().Add(DefaultCallTimeout))
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return fail(err)
	}
	conn.SetReadDeadline(time.Time{})
	resp.Body = &connBody{ReadCloser: resp.Body, close: func() { stop(); conn.Close() }}
	return resp, nil
}

// connBody is a response body that closes its connection with it.
type connBody struct {
	io.ReadCloser
	close func()
}

// Close implements io.Closer.
func (b *connBody) Close() error {
	err := b.ReadCloser.Close()
	b.close()
	return err
}

// connError explains a failure to reach the agent.
func (c *Client) connError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w %s: is the agent running (systemctl status edgegw), and is the socket path right (--socket)?", ErrNotRunning, c.path)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w %s: join group %s to use it (sudo usermod -aG %[3]s $USER, then log in again)", ErrSocketPermission, c.path, c.socketGroup())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("control socket %s: %w", c.path, err)
}

// socketGroup names the group that owns the socket file, which is the group
// a caller must join.
func (c *Client) socketGroup() string {
	fi, err := os.Stat(c.path)
	if err != nil {
		fi, err = os.Stat(filepath.Dir(c.path)) // the directory is what refused
	}
	if err != nil {
		return DefaultViewerGroup
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return DefaultViewerGroup
	}
	g, err := user.LookupGroupId(strconv.FormatUint(uint64(st.Gid), 10))
	if err != nil {
		return DefaultViewerGroup
	}
	return g.Name
}
