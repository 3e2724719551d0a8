package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/sim/meteremu"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/poll"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// runAgent commissions the agent installed in root as docs/operations.md
// says and runs its service as the unit does: as the edgegw user with its
// groups, everything read-only but its state and runtime directories,
// polling an energy meter on RS-485 (an emulated meter at the far end of a
// pseudo-terminal, owned by group dialout as a USB adapter's node is) and
// forwarding sealed, signed batches to a real Mosquitto, where the backend
// opens them. `edgegw status` reaches it over the control socket, and
// SIGTERM stops it cleanly.
func runAgent(t *testing.T, root string) {
	t.Helper()
	br := mqtttest.Start(t, mqtttest.Options{})
	meter, err := meteremu.Start(meteremu.Config{Units: []meteremu.Unit{{ID: 1, Profile: "sdm120"}}, Baud: 9600, Parity: "N", StopBits: 1})
	must.NoError(t, err)
	t.Cleanup(func() { meter.Close() })
	sh(t, "chgrp", accountID(t, root, "group", "dialout"), meter.Path())
	must.NoError(t, os.Chmod(meter.Path(), 0o660))
	etc := filepath.Join(root, "etc/edgegw")
	user := accountID(t, root, "passwd", "edgegw") + ":" + accountID(t, root, "group", "edgegw")

	// The operator's files: the broker's CA, the box's client certificate
	// and key (0600, owned by edgegw), the recipient's public key.
	recipient := t.TempDir()
	must.NoError(t, keys.GenerateRecipientNamed(recipient, "ops.recipient", keys.SuiteX25519, false))
	cert, key := br.Client(t, "jb-0417")
	for dst, src := range map[string]string{"ca.pem": br.CAFile, "client.pem": cert, "client.key": key,
		"ops.recipient.pub": filepath.Join(recipient, "ops.recipient.pub")} {
		write(t, filepath.Join(etc, dst), read(t, src))
	}
	sh(t, "chown", user, filepath.Join(etc, "client.key"))
	must.NoError(t, os.Chmod(filepath.Join(etc, "client.key"), 0o600))
	// The conffile as shipped (gateway jb-0417), but for the broker's
	// address, batches closed every 500 ms and, for devices, the street
	// light's meter on the emulated RS-485 line.
	conf := filepath.Join(etc, "edgegw.yaml")
	shipped := read(t, conf)
	head, _, ok := strings.Cut(shipped, "\ndevices:\n")
	edited := strings.Replace(strings.Replace(head, "mqtts://mqtt.city.example:8883", br.URL, 1), "\nbatch:\n", "\nbatch: {max_delay: 500ms}\n", 1)
	if !ok || !strings.Contains(shipped, "id: jb-0417") || !strings.Contains(shipped, "profile: sdm120") || !strings.Contains(edited, br.URL) || !strings.Contains(edited, "max_delay") {
		t.Fatalf("the installed edgegw.yaml is not the Pi junction box's example:\n%s", shipped)
	}
	write(t, conf, edited+fmt.Sprintf(`
devices:
  - {name: street-light, driver: modbusmeter, interval: 1s, class: telemetry, options: {port: %s, unit: 1, profile: sdm120}}
`, meter.Path()))

	sb := newSandbox(t, root, "lib/systemd/system/edgegw.service")
	// Commissioning, as the service user: the identity key, the
	// configuration check and the self test.
	sb.run(t, "/usr/bin/edgegw", "keys", "init", "--dir", "/var/lib/edgegw/keys", "--id", "jb-0417")
	sb.run(t, "/usr/bin/edgegw", "config", "validate", "/etc/edgegw/edgegw.yaml")
	trust, err := envelope.LoadTrust(filepath.Join(root, "var/lib/edgegw/keys/identity.pub"))
	must.NoError(t, err)
	rk, err := keys.LoadRecipientPrivate(filepath.Join(recipient, "ops.recipient.key"))
	must.NoError(t, err)
	opener := backend.Opener{Trust: trust, Keys: []*keys.RecipientPrivate{rk}}
	var mu sync.Mutex
	var readings []string
	mqtttest.Subscribe(t, br, br.Backend, "backend", true, []string{br.Prefix + "/+/data/#"}, nil, func(topic string, payload []byte) {
		res, err := opener.Open(topic, payload)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			readings = append(readings, "rejected: "+err.Error())
			return
		}
		for _, r := range res.Readings {
			readings = append(readings, fmt.Sprintf("%s %s/%s %s", res.Gateway, r.Device, r.Channel, r.Unit))
		}
	})

	svc := sb.start(t)
	svc.waitLog(t, "agent started")
	poll.Until(t, mqtttest.WaitTimeout, "a batch of the meter's readings, opened by the backend", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range readings {
			if strings.HasPrefix(r, "rejected") {
				t.Fatalf("the backend rejected a batch: %s", r)
			}
		}
		return len(readings) > 0
	})
	mu.Lock()
	if !strings.HasPrefix(readings[0], "jb-0417 street-light/") {
		t.Errorf("reading %q, want one of jb-0417's street-light", readings[0])
	}
	mu.Unlock()
	// A viewer (group edgegw) asks the agent over its control socket.
	if out := sb.run(t, "/usr/bin/edgegw", "status"); !strings.Contains(out, "street-light") {
		t.Errorf("edgegw status names no street-light:\n%s", out)
	}

	if err := svc.stop(t); err != nil {
		t.Errorf("after SIGTERM: %v, want exit 0", err)
	}
	if log := svc.log.String(); !strings.Contains(log, "agent stopped") {
		t.Errorf("no clean stop logged:\n%s", log)
	}
}
