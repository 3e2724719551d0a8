package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"

	"golang.org/x/sys/unix"

	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/gateway/control/controltest"
)

// ctlExecute runs a command line on a root that has the control commands.
func ctlExecute(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRoot()
	addMissing(root, newControlCmds()...)
	return executeOn(root, args...)
}

var ctlT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// ctlServer serves a fake agent, to callers who all get role, on a socket
// whose path it returns.
func ctlServer(t *testing.T, role control.Role) (string, *controltest.Agent, *controltest.Auditor) {
	t.Helper()
	agent := &controltest.Agent{
		State: control.Status{
			Gateway: "gw-042", Version: "1.2.3", UptimeSeconds: 3723, ConfigVersion: 7,
			Uplink: control.UplinkStatus{Broker: "ssl://broker.city:8883", Since: ctlT0, NextRetry: time.Now().Add(4 * time.Second), LastError: "dial tcp: connection refused", Reconnects: 4,
				Receipts: &control.ReceiptStatus{
					TimeoutSeconds: 60, Accepted: 12, Rejected: map[string]uint64{"untrusted": 2, "stale": 1}, ReceiptedBatches: 480,
					Republished: 3, UnreceiptedBatches: 5, UnreceiptedReadings: 500, OldestUnreceiptedAge: 75,
					Last: &control.LastReceipt{Time: ctlT0, Received: ctlT0, Through: 1234, Highest: 1240, Signer: "ingest-1"},
				}},
			Buffer: control.BufferStatus{Batches: 3, Readings: 1234, Bytes: 2 << 20, OldestUnsentAge: 5400, DroppedReadings: 17, DroppedBatches: 1},
			Devices: []control.DeviceStatus{
				{Name: "aq-1", Driver: "bme280", Enabled: true, Interval: "10s", Polls: 360, Errors: 2, LastOK: ctlT0, Flags: []string{"humid"}},
				{Name: "meter-1", Driver: "modbusmeter", Enabled: false, Interval: "1m0s", Polls: 5, Errors: 5, LastError: "modbus: timeout"},
			},
		},
		Readings: map[string][]reading.Reading{"aq-1": {
			{Device: "aq-1", Channel: "temperature", Value: 21.5, Unit: reading.Celsius, Time: ctlT0},
			{Device: "aq-1", Channel: "humidity", Value: math.NaN(), Unit: reading.RelHumid, Time: ctlT0, Flags: reading.ReadError},
		}},
		Polls: [][]reading.Reading{
			{{Device: "aq-1", Channel: "temperature", Value: 21.5, Unit: reading.Celsius, Time: ctlT0}, {Device: "aq-1", Channel: "pm25", Value: 12, Unit: reading.MicrogramM, Time: ctlT0, Flags: reading.Humid}},
			{{Device: "meter-1", Channel: "power", Value: 230, Unit: reading.Watt, Time: ctlT0}},
		},
	}
	audit := &controltest.Auditor{}
	path := filepath.Join(controltest.SocketDir(t), "control.sock")
	controltest.Serve(t, control.NewServer(agent, audit, control.Options{Authorize: func(unix.Ucred) (control.Role, error) { return role, nil }}), path)
	return path, agent, audit
}

func TestControlCommands(t *testing.T) {
	tech, _, techAudit := ctlServer(t, control.RoleTechnician)
	viewer, _, _ := ctlServer(t, control.RoleViewer)
	missing := filepath.Join(t.TempDir(), "none.sock")
	tests := []commandCase{
		{"status", []string{"status", "--socket", viewer}, 0, []string{
			"gw-042 (edgegw 1.2.3), up 1h2m3s, config version 7", "NOT synchronised", "disconnected ssl://broker.city:8883 since",
			"last error: dial tcp: connection refused", "1234 readings in 3 batches, 2.0 MiB; oldest unsent 1h30m0s", "dropped 17 readings in 1 batches",
			"next attempt ", "(in 4s)", "Receipts  last 2026-03-01 ", "through 1234 (highest 1240) by ingest-1",
			"500 readings in 5 batches unreceipted, oldest published 1m15s ago; 480 batches receipted, 3 published again (after 1m0s)",
			"receipts rejected: stale 1, untrusted 2",
			"DEVICE", "aq-1", "humid", "meter-1", "disabled", "modbus: timeout"}},
		{"status agent not running", []string{"status", "--socket", missing}, 1, []string{"none.sock: is the agent running"}},
		{"status extra argument", []string{"status", "now", "--socket", viewer}, 2, []string{"accepts 0 arg(s)"}},
		{"read", []string{"read", "aq-1", "--socket", tech}, 0, []string{"CHANNEL", "temperature  21.50 °C  ok", "humidity     ?         read-error"}},
		{"read json", []string{"read", "aq-1", "--json", "--socket", tech}, 0, []string{`"channel": "temperature"`, `"value": 21.5`}},
		{"read unknown device", []string{"read", "ghost", "--socket", tech}, 1, []string{`device.read: "ghost": unknown device`}},
		{"read denied", []string{"read", "aq-1", "--socket", viewer}, 1, []string{"device.read needs the technician role (group edgegw-tech); you are viewer"}},
		{"read without device", []string{"read", "--socket", tech}, 2, []string{"accepts 1 arg(s)"}},
		{"buffer stats", []string{"buffer", "stats", "--socket", viewer}, 0, []string{"1234 readings in 3 batches (2.0 MiB) waiting for delivery, oldest 1h30m0s; dropped 17"}},
		{"buffer stats json", []string{"buffer", "stats", "--json", "--socket", viewer}, 0, []string{`"oldest_unsent_s": 5400`}},
		{"buffer flush", []string{"buffer", "flush", "--socket", tech}, 0, []string{"flushed; 1234 readings"}},
		{"buffer flush denied", []string{"buffer", "flush", "--socket", viewer}, 1, []string{"buffer.flush needs the technician role"}},
		{"log-level", []string{"log-level", "debug", "--socket", tech}, 0, []string{"log level set to debug"}},
		{"log-level bad", []string{"log-level", "chatty", "--socket", tech}, 2, []string{`log level "chatty": want debug, info, warn or error`}},
		{"device disable", []string{"device", "disable", "meter-1", "--socket", tech}, 0, []string{"meter-1 disabled"}},
		{"device enable json", []string{"device", "enable", "aq-1", "--json", "--socket", tech}, 0, []string{`"enabled": true`}},
		{"device without verb", []string{"device", "explode", "aq-1"}, 2, []string{"unknown command"}},
		{"audit", []string{"audit", "--socket", tech}, 0, []string{"TIME", "technician", "buffer.flush", "started", "device.disable", "device=meter-1", "ok"}},
		{"audit bad limit", []string{"audit", "--limit", "0", "--socket", tech}, 2, []string{"--limit must be from 1 to 1000"}},
		{"watch one device", []string{"watch", "--device", "aq-1", "--socket", viewer}, 1, []string{
			"aq-1  temperature=21.50 °C  pm25=12.0 µg/m³ (humid)\n", "the agent ended the stream"}},
		{"whoami", []string{"whoami", "--socket", tech}, 0, []string{"role technician: uid ", ", process "}},
		{"whoami json", []string{"whoami", "--json", "--socket", viewer}, 0, []string{`"role": "viewer"`}},
		{"help", []string{"status", "--help"}, 0, []string{"Examples:", "edgegw status --json", "technician  members of group edgegw-tech", "--socket string", "(default \"/run/edgegw/control.sock\")"}},
	}
	runCommands(t, ctlExecute, tests)
	// The technician's changes above reached the audit trail with results.
	var changes []string
	for _, e := range techAudit.Events() {
		if e.Result != "started" {
			changes = append(changes, e.Action+" "+e.Result)
		}
	}
	want := "device.read ok|device.read ok|device.read error: \"ghost\": unknown device|buffer.flush ok|log.level ok|device.disable ok|device.enable ok"
	if got := strings.Join(changes, "|"); got != want {
		t.Errorf("audit outcomes\n%s\nwant\n%s", got, want)
	}
}

// TestStatusJSON pins `status --json`: it decodes into control.Status with
// no unknown field, and carries the agent's values.
func TestStatusJSON(t *testing.T) {
	sock, agent, _ := ctlServer(t, control.RoleViewer)
	out, code := ctlExecute(t, "status", "--json", "--socket", sock)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var st control.Status
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	want := agent.Status()
	if st.Gateway != "gw-042" || st.Version != want.Version || st.ConfigVersion != 7 || st.UptimeSeconds != 3723 || st.ClockSynced ||
		st.Uplink.LastError != want.Uplink.LastError || !st.Uplink.Since.Equal(ctlT0) || st.Buffer != want.Buffer ||
		len(st.Devices) != 2 || st.Devices[0].Name != "aq-1" || !st.Devices[0].LastOK.Equal(ctlT0) || st.Devices[1].Errors != 5 {
		t.Errorf("status --json = %+v\nwant %+v", st, want)
	}
	if r := st.Uplink.Receipts; r == nil || r.Last == nil || r.Last.Through != 1234 || r.Last.Signer != "ingest-1" || r.Rejected["untrusted"] != 2 || r.UnreceiptedReadings != 500 || st.Uplink.NextRetry.IsZero() {
		t.Errorf("status --json uplink = %+v, receipts %+v", st.Uplink, st.Uplink.Receipts)
	}
	for _, key := range []string{`"uptime_s"`, `"config_version"`, `"clock_synced"`, `"oldest_unsent_s"`, `"dropped_readings"`, `"last_ok"`, `"last_error"`,
		`"next_retry"`, `"oldest_unreceipted_s"`, `"unreceipted_readings"`, `"receipted_batches"`, `"through"`, `"signer"`} {
		if !strings.Contains(out, key) {
			t.Errorf("status --json lacks %s", key)
		}
	}
}

// TestWatchUntilInterrupt: watch follows until its context is cancelled
// (Ctrl-C), then exits 0.
func TestWatchUntilInterrupt(t *testing.T) {
	sock, agent, _ := ctlServer(t, control.RoleViewer)
	agent.Follow = true
	root := newRoot()
	root.AddCommand(newWatchCmd())
	pr, pw := io.Pipe()
	root.SetOut(pw)
	root.SetErr(pw)
	root.SetArgs([]string{"watch", "--json", "--socket", sock})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	dec := json.NewDecoder(pr)
	for i := range 2 {
		var p control.Poll
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
		if len(p.Readings) == 0 {
			t.Fatalf("poll %d is empty", i)
		}
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		t.Errorf("watch after Ctrl-C = %v, want nil", err)
	}
}

func TestCompletion(t *testing.T) {
	sock, _, _ := ctlServer(t, control.RoleViewer)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"bash", []string{"completion", "bash"}, []string{"__start_edgegw", "complete -o default -F __start_edgegw edgegw"}},
		{"zsh", []string{"completion", "zsh"}, []string{"#compdef edgegw", "_edgegw"}},
		{"subcommands", []string{"__complete", "bu"}, []string{"buffer\t"}},
		{"buffer verbs", []string{"__complete", "buffer", ""}, []string{"flush\t", "stats\t"}},
		{"log levels", []string{"__complete", "log-level", ""}, []string{"debug", "info", "warn", "error"}},
		{"device names from the agent", []string{"__complete", "read", "--socket", sock, ""}, []string{"aq-1\tbme280", "meter-1\tmodbusmeter", ":4"}},
		{"watch --device from the agent", []string{"__complete", "watch", "--socket", sock, "--device", ""}, []string{"aq-1\tbme280"}},
		{"no agent: no names, no files", []string{"__complete", "device", "disable", "--socket", "/nonexistent.sock", ""}, []string{":4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := ctlExecute(t, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("edgegw %s lacks %q:\n%.2000s", strings.Join(tt.args, " "), w, out)
				}
			}
		})
	}
}

func TestAgoText(t *testing.T) {
	for d, want := range map[time.Duration]string{42 * time.Second: "42s", 5*time.Minute + 10*time.Second: "5m10s", 3*time.Hour + 4*time.Minute + 5*time.Second: "3h4m", 6453 * time.Hour: "268d"} {
		if got := agoText(d); got != want {
			t.Errorf("agoText(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestSocketFromConfig: --config takes the socket path from control.socket.
func TestSocketFromConfig(t *testing.T) {
	sock, _, _ := ctlServer(t, control.RoleViewer)
	cfg := filepath.Join(t.TempDir(), "edgegw.yaml")
	data := "gateway: {id: gw-042}\nuplink: {broker: ssl://b:8883, ca: /c, cert: /c, key: /k}\nrecipients: {telemetry: /r}\ncontrol: {socket: " + sock + "}\n" +
		"devices:\n  - {name: aq-1, driver: sim, interval: 5s, class: telemetry}\n"
	must.NoError(t, os.WriteFile(cfg, []byte(data), 0o600))
	if out, code := ctlExecute(t, "status", "--config", cfg); code != 0 || !strings.Contains(out, "gw-042") {
		t.Errorf("status --config: exit %d\n%s", code, out)
	}
	if out, code := ctlExecute(t, "status", "--config", filepath.Join(t.TempDir(), "none.yaml")); code != 1 || !strings.Contains(out, "none.yaml") {
		t.Errorf("status with a missing config: exit %d\n%s", code, out)
	}
}

// TestPrintStatusConfigSource: status says which file the agent runs, its
// fleet state, and why the operator's file is not the one running.
func TestPrintStatusConfigSource(t *testing.T) {
	st := control.Status{Gateway: "gw-001", ConfigVersion: 5, Config: &control.ConfigSource{
		File: "/var/lib/edgegw/config/applied.yaml", Origin: "applied", Operator: "/etc/edgegw/edgegw.yaml", State: "committed",
		Note: "/etc/edgegw/edgegw.yaml (version 1) is not used: the applied version 5 is newer; give the file a version above 5 to run it",
	}}
	var out bytes.Buffer
	must.NoError(t, printStatus(&out, st, time.Now()))
	for _, want := range []string{
		"Config    /var/lib/edgegw/config/applied.yaml (applied by a fleet push or config apply), committed\n",
		"          /etc/edgegw/edgegw.yaml (version 1) is not used: the applied version 5 is newer",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
}

// TestStatusReceiptsOffAndNone: the status says when receipts are off (and
// what to set), and when none has been accepted yet.
func TestStatusReceiptsOffAndNone(t *testing.T) {
	for _, tc := range []struct {
		receipts *control.ReceiptStatus
		want     string
	}{
		{nil, "Receipts  off: batches are deleted on the broker's PUBACK (pin the ingest key in uplink.receipts)"},
		{&control.ReceiptStatus{TimeoutSeconds: 60, UnreceiptedBatches: 2, UnreceiptedReadings: 200, OldestUnreceiptedAge: 90},
			"Receipts  none accepted yet\n          200 readings in 2 batches unreceipted, oldest published 1m30s ago"},
	} {
		var out bytes.Buffer
		st := control.Status{Gateway: "gw-042", Uplink: control.UplinkStatus{Connected: true, Receipts: tc.receipts}}
		must.NoError(t, printStatus(&out, st, ctlT0))
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("status lacks %q:\n%s", tc.want, out.String())
		}
		if strings.Contains(out.String(), "next attempt") {
			t.Errorf("a connected uplink shows a next attempt:\n%s", out.String())
		}
	}
}
