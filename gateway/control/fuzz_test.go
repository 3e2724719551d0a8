package control_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgegw/edgegw/internal/must"

	"golang.org/x/sys/unix"

	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/gateway/control/controltest"
)

// FuzzRequest sends arbitrary bodies to the control socket's endpoints as an
// admin: the server never panics, answers with a known status, and every
// error is a JSON object with a message.
func FuzzRequest(f *testing.F) {
	endpoints := []string{"/v1/read", "/v1/log-level", "/v1/buffer/flush", "/v1/devices/aq-1/enable", "/v1/devices/x/op", "/v1/config/apply"}
	for _, seed := range []string{`{"device":"aq-1"}`, `{"level":"debug"}`, `{}`, `{"config":"version: 1\n"}`, `{"device":`, `[]`, "\x00", `{"device":"aq-1","x":1}`} {
		for i := range endpoints {
			f.Add(uint8(i), []byte(seed))
		}
	}
	path := filepath.Join(controltest.SocketDir(f), "c.sock")
	controltest.Serve(f, control.NewServer(fakeAgent(), &controltest.Auditor{}, control.Options{
		Authorize: func(unix.Ucred) (control.Role, error) { return control.RoleAdmin, nil },
	}), path)
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
	known := []int{200, 400, 403, 404, 413, 500, 503}
	f.Fuzz(func(t *testing.T, ep uint8, body []byte) {
		url := "http://edgegw" + endpoints[int(ep)%len(endpoints)]
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		must.NoError(t, err)
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if !slices.Contains(known, resp.StatusCode) {
			t.Fatalf("POST %s %q: status %d", url, body, resp.StatusCode)
		}
		if resp.StatusCode != 200 {
			var e struct{ Error string }
			if json.Unmarshal(data, &e) != nil || e.Error == "" {
				t.Fatalf("POST %s %q: status %d with body %q", url, body, resp.StatusCode, data)
			}
		}
	})
}
