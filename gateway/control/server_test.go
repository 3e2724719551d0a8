package control_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"

	"golang.org/x/sys/unix"

	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/gateway/control/controltest"
	"github.com/edgegw/edgegw/internal/poll"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fakeAgent() *controltest.Agent {
	return &controltest.Agent{
		State: control.Status{
			Gateway: "gw-001", Version: "1.2.3", UptimeSeconds: 3723, ConfigVersion: 7, ClockSynced: true,
			Uplink: control.UplinkStatus{Broker: "ssl://broker:8883", Connected: true, Since: t0.Add(-time.Hour), Published: 10, Acknowledged: 9, Reconnects: 1},
			Buffer: control.BufferStatus{Batches: 2, Readings: 120, Bytes: 4096, OldestUnsentAge: 42, DroppedBatches: 1, DroppedReadings: 50},
			Devices: []control.DeviceStatus{
				{Name: "aq-1", Driver: "bme280", Enabled: true, Interval: "10s", Polls: 100, Errors: 2, LastOK: t0, Flags: []string{"humid"}},
				{Name: "meter-1", Driver: "modbusmeter", Enabled: true, Interval: "1m0s", Polls: 5, Errors: 5, LastError: "modbus: timeout"},
			},
		},
		Readings: map[string][]reading.Reading{
			"aq-1": {
				{Device: "aq-1", Channel: "temperature", Value: 21.5, Unit: reading.Celsius, Time: t0},
				{Device: "aq-1", Channel: "humidity", Value: math.NaN(), Unit: reading.RelHumid, Time: t0, Flags: reading.ReadError},
			},
		},
		Polls: [][]reading.Reading{
			{{Device: "aq-1", Channel: "temperature", Value: 21.5, Unit: reading.Celsius, Time: t0}},
			{{Device: "meter-1", Channel: "power", Value: 230, Unit: reading.Watt, Time: t0.Add(time.Second), Flags: reading.Stuck}},
			{{Device: "aq-1", Channel: "temperature", Value: 21.6, Unit: reading.Celsius, Time: t0.Add(2 * time.Second)}},
		},
	}
}

type fixture struct {
	client *control.Client
	agent  *controltest.Agent
	audit  *controltest.Auditor
	path   string
}

// start serves a fake agent to callers who all get role.
func start(t *testing.T, role control.Role) fixture {
	t.Helper()
	f := fixture{agent: fakeAgent(), audit: &controltest.Auditor{}, path: filepath.Join(controltest.SocketDir(t), "control.sock")}
	srv := control.NewServer(f.agent, f.audit, control.Options{
		Authorize: func(unix.Ucred) (control.Role, error) { return role, nil },
		Now:       func() time.Time { return t0 },
	})
	controltest.Serve(t, srv, f.path)
	f.client = control.Dial(f.path)
	return f
}

// TestPeerCredentials checks the real SO_PEERCRED: the server sees this very
// process.
func TestPeerCredentials(t *testing.T) {
	seen := make(chan unix.Ucred, 2) // serve's readiness probe, then WhoAmI
	path := filepath.Join(controltest.SocketDir(t), "c.sock")
	srv := control.NewServer(fakeAgent(), &controltest.Auditor{}, control.Options{
		Authorize: func(c unix.Ucred) (control.Role, error) { seen <- c; return control.RoleTechnician, nil },
	})
	controltest.Serve(t, srv, path)
	who, err := control.Dial(path).WhoAmI(context.Background())
	must.NoError(t, err)
	<-seen
	c := <-seen
	want := unix.Ucred{Pid: int32(os.Getpid()), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	if c != want {
		t.Errorf("server saw %+v, want %+v", c, want)
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	wantWho := control.Caller{UID: os.Getuid(), GID: os.Getgid(), PID: os.Getpid(), Process: strings.TrimSpace(string(comm)), Role: "technician"}
	if who != wantWho {
		t.Errorf("WhoAmI = %+v, want %+v", who, wantWho)
	}
}

func TestSocketFile(t *testing.T) {
	dir := filepath.Join(controltest.SocketDir(t), "run", "edgegw") // missing: Serve creates it
	path := filepath.Join(dir, "control.sock")
	controltest.Serve(t, control.NewServer(fakeAgent(), &controltest.Auditor{}, control.Options{}), path)
	fi, err := os.Lstat(path)
	must.NoError(t, err)
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want a socket with 0660", fi.Mode())
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o750 {
		t.Errorf("socket directory: %v, %v; want mode 0750", di.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".sock*")); len(left) != 0 {
		t.Errorf("temporary socket left: %v", left)
	}
	// A second server on the same path refuses rather than steal it.
	err = control.NewServer(fakeAgent(), &controltest.Auditor{}, control.Options{}).Serve(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "another process is serving it") {
		t.Errorf("second Serve = %v, want a refusal", err)
	}
}

func TestStaleSocket(t *testing.T) {
	dir := controltest.SocketDir(t)
	path := filepath.Join(dir, "control.sock")
	// A socket left behind by a crash: bound, closed, not removed.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	must.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	ln.Close()
	f := fixture{client: control.Dial(path)}
	controltest.Serve(t, control.NewServer(fakeAgent(), &controltest.Auditor{}, control.Options{Authorize: func(unix.Ucred) (control.Role, error) { return control.RoleViewer, nil }}), path)
	if _, err := f.client.Status(context.Background()); err != nil {
		t.Errorf("status after replacing a stale socket: %v", err)
	}

	// A regular file is never removed.
	file := filepath.Join(dir, "not-a-socket")
	os.WriteFile(file, []byte("keep me"), 0o600)
	err = control.NewServer(fakeAgent(), &controltest.Auditor{}, control.Options{}).Serve(context.Background(), file)
	if err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("Serve on a regular file = %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Errorf("regular file changed: %q", b)
	}
}

// post sends a raw request over the socket, for inputs the Client never
// sends.
func raw(t *testing.T, path, method, url, body string) (int, string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	req, _ := http.NewRequest(method, "http://x"+url, strings.NewReader(body))
	resp, err := hc.Do(req)
	must.NoError(t, err)
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func TestEndpoints(t *testing.T) {
	type ev struct{ action, result string }
	tests := []struct {
		name        string
		role        control.Role
		method, url string
		body        string
		code        int
		wantBody    string // substring
		wantCalls   []string
		wantEvents  []ev
		wantArgs    map[string]string
	}{
		{name: "status as viewer", role: control.RoleViewer, method: "GET", url: "/v1/status", code: 200, wantBody: `"gateway":"gw-001"`},
		{name: "status as none", role: control.RoleNone, method: "GET", url: "/v1/status", code: 403,
			wantBody: `status needs the viewer role (group edgegw); you are none`, wantEvents: []ev{{"status", "denied: needs viewer"}}},
		{name: "audit as viewer", role: control.RoleViewer, method: "GET", url: "/v1/audit?limit=5", code: 200, wantBody: `"events":[]`},
		{name: "audit bad limit", role: control.RoleViewer, method: "GET", url: "/v1/audit?limit=0", code: 400, wantBody: "want a number from 1 to 1000"},
		{name: "audit huge limit", role: control.RoleViewer, method: "GET", url: "/v1/audit?limit=100000", code: 400, wantBody: "limit"},
		{name: "read as technician", role: control.RoleTechnician, method: "POST", url: "/v1/read", body: `{"device":"aq-1"}`, code: 200,
			wantBody: `"channel":"temperature","value":21.5`, wantCalls: []string{"read aq-1"},
			wantEvents: []ev{{"device.read", "started"}, {"device.read", "ok"}}, wantArgs: map[string]string{"device": "aq-1"}},
		{name: "read error reading has no value", role: control.RoleTechnician, method: "POST", url: "/v1/read", body: `{"device":"aq-1"}`, code: 200,
			wantBody: `"channel":"humidity","unit":"%RH","time":"2026-03-01T12:00:00Z","flags":["read-error"]`, wantCalls: []string{"read aq-1"},
			wantEvents: []ev{{"device.read", "started"}, {"device.read", "ok"}}},
		{name: "read as viewer denied", role: control.RoleViewer, method: "POST", url: "/v1/read", body: `{"device":"aq-1"}`, code: 403,
			wantBody: "device.read needs the technician role (group edgegw-tech); you are viewer", wantEvents: []ev{{"device.read", "denied: needs technician"}}, wantArgs: map[string]string{"device": "aq-1"}},
		{name: "read unknown device", role: control.RoleTechnician, method: "POST", url: "/v1/read", body: `{"device":"nope"}`, code: 404,
			wantBody: `device.read: \"nope\": unknown device`, wantCalls: []string{"read nope"},
			wantEvents: []ev{{"device.read", "started"}, {"device.read", `error: "nope": unknown device`}}},
		{name: "read bad name", role: control.RoleTechnician, method: "POST", url: "/v1/read", body: `{"device":"../etc"}`, code: 400, wantBody: "bad device name"},
		{name: "read unknown field", role: control.RoleTechnician, method: "POST", url: "/v1/read", body: `{"device":"aq-1","force":true}`, code: 400, wantBody: `unknown field \"force\"`},
		{name: "read not json", role: control.RoleTechnician, method: "POST", url: "/v1/read", body: `device=aq-1`, code: 400, wantBody: "bad request body"},
		{name: "read empty body", role: control.RoleTechnician, method: "POST", url: "/v1/read", code: 400, wantBody: "empty body"},
		{name: "read trailing data", role: control.RoleTechnician, method: "POST", url: "/v1/read", body: `{"device":"aq-1"}{}`, code: 400, wantBody: "trailing data"},
		{name: "read huge body", role: control.RoleTechnician, method: "POST", url: "/v1/read", body: `{"device":"` + strings.Repeat("a", 10000) + `"}`, code: 413, wantBody: "larger than 4096 bytes"},
		{name: "flush as technician", role: control.RoleTechnician, method: "POST", url: "/v1/buffer/flush", code: 200, wantBody: `"readings":120`,
			wantCalls: []string{"flush"}, wantEvents: []ev{{"buffer.flush", "started"}, {"buffer.flush", "ok"}}},
		{name: "flush as admin", role: control.RoleAdmin, method: "POST", url: "/v1/buffer/flush", code: 200,
			wantCalls: []string{"flush"}, wantEvents: []ev{{"buffer.flush", "started"}, {"buffer.flush", "ok"}}},
		{name: "config apply as admin", role: control.RoleAdmin, method: "POST", url: "/v1/config/apply", body: `{"config":"version: 1\n"}`, code: 200,
			wantBody: `{"version":1}`, wantCalls: []string{"apply 11 bytes"}, wantEvents: []ev{{"config.apply", "started"}, {"config.apply", "ok"}}},
		{name: "config apply as technician denied", role: control.RoleTechnician, method: "POST", url: "/v1/config/apply", body: `{"config":"version: 1\n"}`, code: 403,
			wantBody: `{"error":"config.apply needs the admin role (group edgegw-admin or root); you are technician"}`, wantEvents: []ev{{"config.apply", "denied: needs admin"}}},
		{name: "flush as viewer denied", role: control.RoleViewer, method: "POST", url: "/v1/buffer/flush", code: 403,
			wantBody: `{"error":"buffer.flush needs the technician role (group edgegw-tech); you are viewer"}`, wantEvents: []ev{{"buffer.flush", "denied: needs technician"}}},
		{name: "flush with GET", role: control.RoleTechnician, method: "GET", url: "/v1/buffer/flush", code: 404, wantBody: "no endpoint GET /v1/buffer/flush"},
		{name: "log level", role: control.RoleTechnician, method: "POST", url: "/v1/log-level", body: `{"level":"debug"}`, code: 200,
			wantCalls: []string{"log-level debug"}, wantEvents: []ev{{"log.level", "started"}, {"log.level", "ok"}}, wantArgs: map[string]string{"level": "debug"}},
		{name: "log level bad", role: control.RoleTechnician, method: "POST", url: "/v1/log-level", body: `{"level":"chatty"}`, code: 400, wantBody: `want debug, info, warn or error`},
		{name: "log level denied", role: control.RoleNone, method: "POST", url: "/v1/log-level", body: `{"level":"debug"}`, code: 403,
			wantEvents: []ev{{"log.level", "denied: needs technician"}}, wantArgs: map[string]string{"level": "debug"}},
		{name: "disable", role: control.RoleTechnician, method: "POST", url: "/v1/devices/meter-1/disable", code: 200, wantBody: `{"device":"meter-1","enabled":false}`,
			wantCalls: []string{"disable meter-1"}, wantEvents: []ev{{"device.disable", "started"}, {"device.disable", "ok"}}, wantArgs: map[string]string{"device": "meter-1"}},
		{name: "enable", role: control.RoleTechnician, method: "POST", url: "/v1/devices/aq-1/enable", code: 200,
			wantCalls: []string{"enable aq-1"}, wantEvents: []ev{{"device.enable", "started"}, {"device.enable", "ok"}}},
		{name: "enable unknown", role: control.RoleTechnician, method: "POST", url: "/v1/devices/ghost/enable", code: 404,
			wantCalls: []string{"enable ghost"}, wantEvents: []ev{{"device.enable", "started"}, {"device.enable", `error: "ghost": unknown device`}}},
		{name: "disable denied", role: control.RoleViewer, method: "POST", url: "/v1/devices/aq-1/disable", code: 403,
			wantEvents: []ev{{"device.disable", "denied: needs technician"}}, wantArgs: map[string]string{"device": "aq-1"}},
		{name: "device unknown op", role: control.RoleTechnician, method: "POST", url: "/v1/devices/aq-1/explode", code: 404, wantBody: "no endpoint"},
		{name: "watch bad device", role: control.RoleViewer, method: "GET", url: "/v1/watch?device=A%20B", code: 400, wantBody: "bad device name"},
		{name: "watch unknown device", role: control.RoleViewer, method: "GET", url: "/v1/watch?device=ghost", code: 404, wantCalls: []string{"watch ghost"}},
		{name: "watch denied", role: control.RoleNone, method: "GET", url: "/v1/watch", code: 403, wantEvents: []ev{{"watch", "denied: needs viewer"}}},
		{name: "unknown endpoint", role: control.RoleAdmin, method: "GET", url: "/v2/status", code: 404, wantBody: "no endpoint GET /v2/status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, tt.role)
			code, body := raw(t, f.path, tt.method, tt.url, tt.body)
			if code != tt.code || !strings.Contains(body, tt.wantBody) {
				t.Errorf("%s %s: %d %s; want %d and %q", tt.method, tt.url, code, body, tt.code, tt.wantBody)
			}
			if got := f.agent.Calls(); !slices.Equal(got, tt.wantCalls) {
				t.Errorf("agent calls %q, want %q", got, tt.wantCalls)
			}
			events := f.audit.Events()
			var got []ev
			for _, e := range events {
				got = append(got, ev{e.Action, e.Result})
				if e.Role != tt.role.String() || e.UID != os.Getuid() || e.GID != os.Getgid() || e.PID != os.Getpid() || e.Process == "" || !e.Time.Equal(t0) {
					t.Errorf("event %+v: want role %s, this process's uid/gid/pid/name and the injected time", e, tt.role)
				}
				if tt.wantArgs != nil && !mapsEqual(e.Args, tt.wantArgs) {
					t.Errorf("event args %v, want %v", e.Args, tt.wantArgs)
				}
			}
			if !slices.Equal(got, tt.wantEvents) {
				t.Errorf("audit events %q, want %q", got, tt.wantEvents)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestAuditFailure: no change without an audit record.
func TestAuditFailure(t *testing.T) {
	ctx := context.Background()
	f := start(t, control.RoleTechnician)
	f.audit.Fail(true)
	if _, err := f.client.Flush(ctx); err == nil || !strings.Contains(err.Error(), "buffer.flush not done: the audit trail cannot record it: audit bucket full") {
		t.Errorf("Flush with a failing audit = %v", err)
	}
	if err := f.client.SetDeviceEnabled(ctx, "aq-1", false); err == nil {
		t.Error("disable with a failing audit succeeded")
	}
	if calls := f.agent.Calls(); len(calls) != 0 {
		t.Errorf("agent was called %q with a failing audit trail", calls)
	}
	v := start(t, control.RoleViewer)
	v.audit.Fail(true)
	if _, err := v.client.Flush(ctx); err == nil || errors.Is(err, control.ErrDenied) || !strings.Contains(err.Error(), "cannot record") {
		t.Errorf("denied Flush with a failing audit = %v, want an audit error", err)
	}
	// Reading needs no record.
	if _, err := v.client.Status(ctx); err != nil {
		t.Errorf("Status with a failing audit: %v", err)
	}
}

func TestCredentialError(t *testing.T) {
	path := filepath.Join(controltest.SocketDir(t), "c.sock")
	audit := &controltest.Auditor{}
	controltest.Serve(t, control.NewServer(fakeAgent(), audit, control.Options{
		Authorize: func(unix.Ucred) (control.Role, error) { return control.RoleAdmin, errors.New("pid reused") },
	}), path)
	_, err := control.Dial(path).Status(context.Background())
	if !errors.Is(err, control.ErrDenied) || !strings.Contains(err.Error(), "cannot verify your credentials: pid reused") {
		t.Errorf("Status = %v, want a denial naming the credential error", err)
	}
	if ev := audit.Events(); len(ev) != 1 || ev[0].Role != "none" || ev[0].Result != "denied: pid reused" {
		t.Errorf("events %+v, want one denial with role none", ev)
	}
}

func TestClientCalls(t *testing.T) {
	ctx := context.Background()
	f := start(t, control.RoleTechnician)
	rs, err := f.client.Read(ctx, "aq-1")
	if err != nil || len(rs) != 2 || *rs[0].Value != 21.5 || rs[0].Unit != "Cel" || rs[1].Value != nil || !slices.Equal(rs[1].Flags, []string{"read-error"}) {
		t.Errorf("Read = %+v, %v", rs, err)
	}
	if _, err := f.client.Read(ctx, "ghost"); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("Read ghost = %v, want ErrNotFound", err)
	}
	must.NoError(t, f.client.SetDeviceEnabled(ctx, "meter-1", false))
	st, err := f.client.Status(ctx)
	if err != nil || st.Devices[1].Enabled {
		t.Errorf("meter-1 still enabled after disable: %+v, %v", st.Devices, err)
	}
	if err := f.client.SetLogLevel(ctx, "warn"); err != nil {
		t.Error(err)
	}
	events, err := f.client.Audit(ctx, 3)
	if err != nil || len(events) != 3 || events[2].Action != "log.level" || events[2].Result != "ok" || events[0].Action != "device.disable" {
		t.Errorf("Audit(3) = %+v, %v; want the newest three, oldest first", events, err)
	}
}

// TestStatusSchema pins the JSON names of status: scripts and the fleet
// backend read them.
func TestStatusSchema(t *testing.T) {
	f := start(t, control.RoleViewer)
	code, body := raw(t, f.path, "GET", "/v1/status", "")
	if code != 200 {
		t.Fatalf("status: %d %s", code, body)
	}
	var st control.Status
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	must.NoError(t, dec.Decode(&st))
	want := f.agent.Status()
	if st.Gateway != want.Gateway || st.UptimeSeconds != 3723 || st.Buffer != want.Buffer || !st.Uplink.Since.Equal(want.Uplink.Since) || len(st.Devices) != 2 || st.Devices[1].LastError != "modbus: timeout" {
		t.Errorf("status = %+v, want %+v", st, want)
	}
	var m map[string]any
	json.Unmarshal([]byte(body), &m)
	for _, k := range []string{"gateway", "version", "uptime_s", "config_version", "clock_synced", "uplink", "buffer", "devices"} {
		if _, ok := m[k]; !ok {
			t.Errorf("status has no %q: %s", k, body)
		}
	}
	buf := m["buffer"].(map[string]any)
	for _, k := range []string{"batches", "readings", "bytes", "oldest_unsent_s", "dropped_batches", "dropped_readings"} {
		if _, ok := buf[k]; !ok {
			t.Errorf("status.buffer has no %q", k)
		}
	}
}

func TestWatch(t *testing.T) {
	f := start(t, control.RoleViewer)
	f.agent.Follow = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- f.client.Watch(ctx, "aq-1", func(p control.Poll) error {
			r := p.Readings[0]
			got = append(got, r.Device+" "+r.Channel)
			if len(got) == 2 {
				cancel() // the client goes away
			}
			return nil
		})
	}()
	if err := <-done; err != nil {
		t.Fatalf("Watch = %v, want nil after the client's cancel", err)
	}
	if !slices.Equal(got, []string{"aq-1 temperature", "aq-1 temperature"}) {
		t.Errorf("polls %q, want aq-1's two", got)
	}
	// The server ends the agent's watch when the client goes away.
	poll.Until(t, 10*time.Second, "the agent's watch to end", func() bool {
		w := f.agent.Watches()
		return len(w) == 1 && w[0].Err() != nil
	})
	if ev := f.audit.Events(); len(ev) != 0 {
		t.Errorf("watching recorded %+v, want nothing", ev)
	}

	// Without Follow the agent's channel closes, and the stream ends.
	g := start(t, control.RoleViewer)
	n := 0
	err := g.client.Watch(context.Background(), "", func(control.Poll) error { n++; return nil })
	if !errors.Is(err, control.ErrStreamEnded) || n != 3 {
		t.Errorf("Watch = %v after %d polls, want ErrStreamEnded after 3", err, n)
	}
}

// TestShutdownEndsWatch: stopping the server ends open streams promptly.
func TestShutdownEndsWatch(t *testing.T) {
	a := fakeAgent()
	a.Follow = true
	path := filepath.Join(controltest.SocketDir(t), "c.sock")
	srv := control.NewServer(a, &controltest.Auditor{}, control.Options{Authorize: func(unix.Ucred) (control.Role, error) { return control.RoleViewer, nil }})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, path) }()
	poll.Until(t, 10*time.Second, "the socket", func() bool { _, err := os.Lstat(path); return err == nil })
	watched := make(chan error, 1)
	polls := make(chan struct{}, 3)
	go func() {
		watched <- control.Dial(path).Watch(context.Background(), "", func(control.Poll) error { polls <- struct{}{}; return nil })
	}()
	for range 3 {
		<-polls
	}
	start := time.Now()
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve = %v", err)
	}
	if err := <-watched; !errors.Is(err, control.ErrStreamEnded) {
		t.Errorf("Watch = %v, want ErrStreamEnded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v with an open stream", d)
	}
}

func TestClientErrors(t *testing.T) {
	dir := controltest.SocketDir(t)
	_, err := control.Dial(filepath.Join(dir, "missing.sock")).Status(context.Background())
	if !errors.Is(err, control.ErrNotRunning) || !strings.Contains(err.Error(), "missing.sock: is the agent running") {
		t.Errorf("missing socket: %v", err)
	}
	// A socket nobody serves any more.
	stale := filepath.Join(dir, "stale.sock")
	ln, _ := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := control.Dial(stale).Status(context.Background()); !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("stale socket: %v", err)
	}
	if os.Geteuid() == 0 {
		t.Log("running as root: permission checks do not apply; TestIntegrationPeerRoles covers them")
		return
	}
	f := start(t, control.RoleViewer)
	os.Chmod(f.path, 0)
	_, err = f.client.Status(context.Background())
	if !errors.Is(err, control.ErrSocketPermission) || !strings.Contains(err.Error(), "join group") {
		t.Errorf("unreadable socket: %v", err)
	}
}

// TestRawRequests speaks HTTP/1.1 to the socket as curl or a broken caller
// would: each call gets one answer on its own connection, and a request
// that cannot be read gets a JSON error naming what was wrong.
func TestRawRequests(t *testing.T) {
	f := start(t, control.RoleAdmin)
	cases := []struct {
		name, request string
		code          int
		want          string
	}{
		{"status", "GET /v1/status HTTP/1.1\r\nHost: edgegw\r\n\r\n", 200, `"gateway":"gw-001"`},
		{"garbage", "HELLO\r\n\r\n", 400, "bad request: malformed HTTP request"},
		{"header too large", "GET /v1/status HTTP/1.1\r\nHost: edgegw\r\nX-Pad: " + strings.Repeat("a", 9000) + "\r\n\r\n", 431, "bad request"},
		{"expect continue", "POST /v1/log-level HTTP/1.1\r\nHost: edgegw\r\nExpect: 100-continue\r\nContent-Length: 17\r\n\r\n{\"level\":\"debug\"}", 200, `"level":"debug"`},
		{"body too large", "POST /v1/read HTTP/1.1\r\nHost: edgegw\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat(" ", 5000), 413, "request body larger than 4096 bytes"},
		{"device path", "POST /v1/devices/aq-1/disable HTTP/1.1\r\nHost: edgegw\r\n\r\n", 200, `"enabled":false`},
		{"device path too deep", "POST /v1/devices/aq-1/disable/x HTTP/1.1\r\nHost: edgegw\r\n\r\n", 404, "no endpoint POST /v1/devices/aq-1/disable/x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("unix", f.path)
			must.NoError(t, err)
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(conn, c.request); err != nil {
				t.Fatal(err)
			}
			// The whole answer up to the server's close: one call per
			// connection.
			raw, err := io.ReadAll(conn)
			must.NoError(t, err)
			ans := string(raw)
			if rest, ok := strings.CutPrefix(ans, "HTTP/1.1 100 Continue\r\n\r\n"); ok {
				if !strings.Contains(c.request, "Expect:") {
					t.Errorf("100 Continue without Expect: %q", ans)
				}
				ans = rest
			} else if strings.Contains(c.request, "Expect:") {
				t.Errorf("no 100 Continue for Expect: %q", ans)
			}
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(ans)), nil)
			if err != nil {
				t.Fatalf("answer %q: %v", ans, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.code || !strings.Contains(string(body), c.want) {
				t.Errorf("%d %s, want %d containing %q", resp.StatusCode, body, c.code, c.want)
			}
			if resp.ContentLength != int64(len(body)) || !resp.Close {
				t.Errorf("Content-Length %d for %d bytes, Connection: close %v", resp.ContentLength, len(body), resp.Close)
			}
		})
	}
}
