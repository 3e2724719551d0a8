package doctor

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/pki"
	"github.com/edgegw/edgegw/drivers"
	_ "github.com/edgegw/edgegw/drivers/sim" // the test box's devices
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// box is a commissioned junction box in a temp dir, with a real broker.
type box struct {
	dir, cfg string
	br       *mqtttest.Broker
	cert     string
	key      string
	receipts string // the ingest key file, "" for none
}

func newBox(t *testing.T) *box {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a broker")
	}
	b := &box{dir: t.TempDir(), br: mqtttest.Start(t, mqtttest.Options{})}
	b.cert, b.key = b.br.Client(t, "gw-001")
	must.NoError(t, keys.InitIdentity(filepath.Join(b.dir, "keys"), "gw-001", false))
	must.NoError(t, keys.GenerateRecipient(filepath.Join(b.dir, "r"), keys.SuiteX25519, false))
	must.NoError(t, keys.InitIdentity(filepath.Join(b.dir, "ingest"), "ingest-1", false))
	b.receipts = filepath.Join(b.dir, "ingest", "identity.pub")
	b.cfg = filepath.Join(b.dir, "edgegw.yaml")
	b.write(t, b.cert)
	return b
}

// write writes the box's configuration with the given client certificate.
func (b *box) write(t *testing.T, cert string) {
	t.Helper()
	receipts := "[]"
	if b.receipts != "" {
		receipts = "[" + b.receipts + "]"
	}
	cfg := fmt.Sprintf(`gateway: {id: gw-001, keys: %[1]s/keys, state: %[1]s/state}
uplink: {broker: %[2]q, ca: %[3]s, cert: %[4]s, key: %[5]s, receipts: %[6]s}
recipients: {telemetry: %[1]s/r/recipient.pub}
buffer: {max_bytes: 1MiB}
control: {socket: %[1]s/control.sock}
devices:
  - {name: aq-1, driver: sim, model: airquality, interval: 5s, class: telemetry}
`, b.dir, b.br.URL, b.br.CAFile, cert, b.key, receipts)
	must.NoError(t, os.WriteFile(b.cfg, []byte(cfg), 0o600))
}

// run runs the doctor and returns the status of each check by name.
func (b *box) run(t *testing.T, now time.Time) (map[string]Result, string) {
	t.Helper()
	res := Run(context.Background(), Options{Config: b.cfg, Now: func() time.Time { return now }, Timeout: 5 * time.Second, Synced: func() bool { return true }})
	var out bytes.Buffer
	Report(&out, res)
	byName := map[string]Result{}
	for _, r := range res {
		byName[r.Check] = r
	}
	return byName, out.String()
}

func TestIntegrationDoctorGoodSetup(t *testing.T) {
	b := newBox(t)
	res, out := b.run(t, time.Now())
	for _, r := range res {
		if r.Status != Pass {
			t.Errorf("%s: %s %s", r.Check, r.Status, r.Detail)
		}
	}
	for _, name := range []string{"config", "identity key", "tls client key", "recipient keys", "receipt keys", "certificate", "clock", "broker tcp", "broker tls", "receipts", "device aq-1", "disk", "no open port"} {
		if _, ok := res[name]; !ok {
			t.Errorf("no %q check in:\n%s", name, out)
		}
	}
}

func TestIntegrationDoctorBrokenSetups(t *testing.T) {
	b := newBox(t)
	tests := []struct {
		name   string
		break_ func(t *testing.T) (restore func())
		now    time.Time
		check  string
		want   Status
		text   string
	}{
		{"missing certificate", func(t *testing.T) func() {
			b.write(t, filepath.Join(b.dir, "none.pem"))
			return func() { b.write(t, b.cert) }
		}, time.Now(), "certificate", Fail, "none.pem"},
		{"expired certificate", nil, time.Now().Add(2 * 365 * 24 * time.Hour), "certificate", Fail, "does not verify"},
		{"certificate expiring in a day", func(t *testing.T) func() {
			cert, _, err := b.br.CA.Issue("gw-001", false, nil, 23*time.Hour) // same key pair not needed: doctor reads the certificate; under a day left however long the cases before took
			must.NoError(t, err)
			short := filepath.Join(t.TempDir(), "short.pem")
			must.NoError(t, os.WriteFile(short, cert, 0o644))
			b.write(t, short)
			return func() { b.write(t, b.cert) }
		}, time.Now(), "certificate", Warn, "in 0 days"},
		{"certificate of another gateway", func(t *testing.T) func() {
			other, _ := b.br.Client(t, "gw-002")
			b.write(t, other)
			return func() { b.write(t, b.cert) }
		}, time.Now(), "certificate", Fail, `CN "gw-002"`},
		{"key readable by others", func(t *testing.T) func() {
			must.NoError(t, os.Chmod(b.key, 0o644))
			return func() { must.NoError(t, os.Chmod(b.key, 0o600)) }
		}, time.Now(), "tls client key", Fail, "chmod 600"},
		{"no receipt keys", func(t *testing.T) func() {
			keep := b.receipts
			b.receipts = ""
			b.write(t, b.cert)
			return func() { b.receipts = keep; b.write(t, b.cert) }
		}, time.Now(), "receipt keys", Warn, "a broker crash, a full broker queue or an ACL-denied publish loses it"},
		{"receipt key file missing", func(t *testing.T) func() {
			keep := b.receipts
			b.receipts = filepath.Join(b.dir, "none.pub")
			b.write(t, b.cert)
			return func() { b.receipts = keep; b.write(t, b.cert) }
		}, time.Now(), "receipt keys", Fail, "none.pub"},
		{"broker down", func(t *testing.T) func() {
			b.br.Stop()
			return b.br.Restart
		}, time.Now(), "broker tcp", Fail, "refused"},
		{"bad config", func(t *testing.T) func() {
			data, _ := os.ReadFile(b.cfg)
			must.NoError(t, os.WriteFile(b.cfg, append(data, "colour: red\n"...), 0o600))
			return func() { must.NoError(t, os.WriteFile(b.cfg, data, 0o600)) }
		}, time.Now(), "config", Fail, "colour: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.break_ != nil {
				defer tt.break_(t)()
			}
			res, out := b.run(t, tt.now)
			r, ok := res[tt.check]
			if !ok || r.Status != tt.want || !strings.Contains(r.Detail+" "+r.Fix, tt.text) {
				t.Errorf("%s = %+v, want %s mentioning %q\n%s", tt.check, r, tt.want, tt.text, out)
			}
			if tt.want == Fail && !strings.Contains(out, "fix: ") {
				t.Errorf("no fix hint in:\n%s", out)
			}
		})
	}
}

func TestListeningSockets(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	must.NoError(t, err)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	must.NoError(t, err)
	socks, err := ListeningSockets(os.Getpid())
	must.NoError(t, err)
	if !slices.ContainsFunc(socks, func(s string) bool { return strings.HasPrefix(s, "tcp ") }) ||
		!slices.ContainsFunc(socks, func(s string) bool { return strings.HasPrefix(s, "udp ") }) {
		t.Errorf("ListeningSockets = %v, want our TCP listener and UDP socket", socks)
	}
	tcp.Close()
	udp.Close()
	// A client connection is not a listening socket.
	l2, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	must.NoError(t, err)
	defer l2.Close()
	if socks, err := ListeningSockets(os.Getpid()); err != nil || len(socks) != 0 {
		t.Errorf("after closing: %v, %v", socks, err)
	}
}

// TestIntegrationDoctorBrokerRefusesCertificate: a client certificate the
// broker refuses (issued by another CA, or expired) fails `broker tls` with
// the broker's refusal, although the TLS handshake itself completes on the
// client's side under TLS 1.3.
func TestIntegrationDoctorBrokerRefusesCertificate(t *testing.T) {
	b := newBox(t)
	other, err := pki.NewCA("another city ca", time.Hour)
	must.NoError(t, err)
	foreignCert, foreignKey, err := other.Issue("gw-001", false, nil, time.Hour)
	must.NoError(t, err)
	expiredCert, expiredKey, err := b.br.CA.IssueBetween("gw-001", false, nil, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	must.NoError(t, err)
	for _, tt := range []struct {
		name      string
		cert, key []byte
	}{
		{"another CA", foreignCert, foreignKey},
		{"expired", expiredCert, expiredKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			must.NoError(t, pki.WriteFiles(dir, "client", tt.cert, tt.key))
			keep := b.key
			b.key = filepath.Join(dir, "client.key")
			b.write(t, filepath.Join(dir, "client.pem"))
			defer func() { b.key = keep; b.write(t, b.cert) }()
			res, out := b.run(t, time.Now())
			r := res["broker tls"]
			if r.Status != Fail || !strings.Contains(r.Detail, "the broker refused the connection after the handshake") || !strings.Contains(r.Fix, "client certificate the broker accepts") {
				t.Errorf("broker tls = %+v, want a failure naming the broker's refusal\n%s", r, out)
			}
		})
	}
	// The box's own certificate is accepted, CONNECT included.
	res, out := b.run(t, time.Now())
	if r := res["broker tls"]; r.Status != Pass || !strings.Contains(r.Detail, `MQTT CONNECT accepted as "gw-001"`) {
		t.Errorf("broker tls with the box's certificate = %+v\n%s", r, out)
	}
}

// TestIntegrationDoctorFixHints: the fix hint names what is wrong first: a
// missing configuration file, a key file others can read (chmod, not a new
// key), a recipient private key where the public key belongs.
func TestIntegrationDoctorFixHints(t *testing.T) {
	b := newBox(t)

	missing := filepath.Join(b.dir, "none.yaml")
	res := Run(context.Background(), Options{Config: missing, Timeout: 5 * time.Second})
	if r := res[0]; r.Check != "config" || r.Status != Fail || r.Detail != "the configuration file "+missing+" does not exist" || !strings.Contains(r.Fix, "--config") {
		t.Errorf("missing config file: %+v", r)
	}

	idKey := filepath.Join(b.dir, "keys", keys.IdentityKeyFile)
	must.NoError(t, os.Chmod(idKey, 0o644))
	res2, out := b.run(t, time.Now())
	if r := res2["identity key"]; r.Status != Fail || !strings.HasPrefix(r.Fix, "chmod 600 "+idKey) || strings.Contains(r.Fix, "keys init") {
		t.Errorf("identity key with mode 0644 = %+v, want the fix chmod 600 %s first\n%s", r, idKey, out)
	}
	must.NoError(t, os.Chmod(idKey, 0o600))
	must.NoError(t, os.Rename(idKey, idKey+".away"))
	if r, _ := b.run(t, time.Now()); r["identity key"].Status != Fail || !strings.Contains(r["identity key"].Fix, "edgegw keys init") {
		t.Errorf("identity key missing = %+v, want the fix keys init", r["identity key"])
	}
	must.NoError(t, os.Rename(idKey+".away", idKey))

	data, err := os.ReadFile(b.cfg)
	must.NoError(t, err)
	must.NoError(t, os.WriteFile(b.cfg, []byte(strings.Replace(string(data), "r/recipient.pub", "r/recipient.key", 1)), 0o600))
	res3, out := b.run(t, time.Now())
	r := res3["recipient keys"]
	if r.Status != Fail || !strings.Contains(r.Detail, "recipient.key is a recipient PRIVATE key") || !strings.Contains(r.Fix, "tell the backend team") {
		t.Errorf("recipient private key as recipient = %+v\n%s", r, out)
	}
	if r := res3["config"]; r.Status != Pass {
		t.Errorf("config = %+v", r)
	}
}

// TestBusStatusMissing: a bus or port that does not exist fails with how to
// enable that kind of interface, the same advice the agent's read errors
// give.
func TestBusStatusMissing(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind drivers.BusKind
		fix  string
	}{
		{"/dev/i2c-77", drivers.I2CBus, "dtparam=i2c_arm=on"},
		{"/dev/spidev7.0", drivers.SPIBus, "dtparam=spi=on"},
		{"/dev/ttyUSB77", drivers.SerialBus, "adapter is plugged in"},
	} {
		st, detail, fix := busStatus(tc.name, tc.kind)
		if st != Fail || detail != tc.name+" does not exist" || !strings.Contains(fix, tc.fix) || fix != tc.kind.Enable() {
			t.Errorf("busStatus(%s) = %v, %q, %q; want a failure saying how to %s", tc.name, st, detail, fix, tc.fix)
		}
	}
}
