package mqtttest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/pki"
	"github.com/edgegw/edgegw/mqtt/topic"
)

const (
	readyTimeout = 10 * time.Second
	stopTimeout  = 10 * time.Second
	validity     = 400 * 24 * time.Hour // beyond doctor's 30-day expiry warning
)

// Options configures Start. Zero fields take the defaults shown.
type Options struct {
	// Prefix is the topic prefix the ACL is written for; "city".
	Prefix string
	// Backend is the identity (certificate common name) that may read
	// <prefix>/+/data/# and <prefix>/+/health; "backend".
	Backend string
	// Ops is the fleet operations identity that may write
	// <prefix>/+/config/set and read <prefix>/+/config/status; "ops".
	Ops string
	// Ingest is the backend ingest identity that may read
	// <prefix>/+/data/#, <prefix>/+/audit and <prefix>/+/health and write
	// <prefix>/+/receipt; "ingest".
	Ingest string
	// MaxQueued is Mosquitto's max_queued_messages per client; 0 queues
	// without limit. Debian's default is 1000: past it the broker drops
	// what it already acknowledged to the publisher.
	MaxQueued int
}

// Broker is a running Mosquitto. Its files live in a test temp dir; it is
// stopped when the test ends, and its log is printed if the test failed.
type Broker struct {
	// URL is the broker URL for clients, "ssl://127.0.0.1:<port>".
	URL string
	// Addr is the listener's "127.0.0.1:<port>".
	Addr string
	// CAFile is the PEM file of the CA that signed every certificate.
	CAFile string
	// CA is the certificate authority, to issue more certificates.
	CA *pki.CA
	// Prefix is the topic prefix of the ACL.
	Prefix string
	// Backend is the backend identity of the ACL.
	Backend string
	// Ops is the fleet operations identity of the ACL.
	Ops string
	// Ingest is the backend ingest identity of the ACL.
	Ingest string
	// Dir holds the configuration, certificates, persistence and log.
	Dir string

	t       testing.TB
	bin     string
	conf    string
	logFile string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// lookMosquitto finds the mosquitto binary, which Debian installs in
// /usr/sbin (often not on a test's PATH).
func lookMosquitto() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// Start writes the CA, the server certificate, the ACL and mosquitto.conf
// into a temp dir and starts Mosquitto on a free loopback port, returning
// once it accepts connections.
func Start(t testing.TB, opts Options) *Broker {
	t.Helper()
	bin, err := lookMosquitto()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("mqtttest: mosquitto not installed; install it (apt-get install mosquitto mosquitto-clients)")
		}
		t.Skip("mqtttest: mosquitto not installed")
	}
	if opts.Prefix == "" {
		opts.Prefix = "city"
	}
	if opts.Backend == "" {
		opts.Backend = "backend"
	}
	if opts.Ops == "" {
		opts.Ops = "ops"
	}
	if opts.Ingest == "" {
		opts.Ingest = "ingest"
	}
	dir := t.TempDir()
	ca, err := pki.NewCA("edgegw test ca", validity)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteFiles(dir, "ca", ca.CertPEM(), nil); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	crt, key, err := ca.Issue("broker", true, []string{"127.0.0.1", "localhost"}, validity)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteFiles(dir, "server", crt, key); err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{
		URL:     "ssl://127.0.0.1:" + strconv.Itoa(port),
		Addr:    "127.0.0.1:" + strconv.Itoa(port),
		CAFile:  caFile,
		CA:      ca,
		Prefix:  opts.Prefix,
		Backend: opts.Backend,
		Ops:     opts.Ops,
		Ingest:  opts.Ingest,
		Dir:     dir,
		t:       t,
		bin:     bin,
		conf:    filepath.Join(dir, "mosquitto.conf"),
		logFile: filepath.Join(dir, "mosquitto.log"),
	}
	acl := filepath.Join(dir, "acl")
	if err := os.WriteFile(acl, []byte(ACL(opts.Prefix, opts.Backend, opts.Ops, opts.Ingest)), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := Config(port, caFile, srvCert, srvKey, acl, filepath.Join(dir, "data")+"/", b.logFile, opts.MaxQueued)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			b.DumpLog()
		}
	})
	b.start()
	return b
}

// ACL returns the ACL file: every identity may read and write its own
// <prefix>/<cn>/... topics (single-level ones such as health and audit,
// data/#, config/status) but only read its config/set, backend may read all
// data, health and audit topics, ops may push configuration (write
// <prefix>/+/config/set) and read every gateway's configuration status, and
// ingest may read every gateway's data, audit, health and configuration
// status (for the fleet view) and write its
// signed receipts (<prefix>/+/receipt), which each gateway reads on its own
// <prefix>/<cn>/receipt. Ops can neither read a configuration back nor forge
// a status, and a gateway's certificate (whose key sits on the box) cannot
// replace or clear the signed configuration retained for it.
func ACL(prefix, backend, ops, ingest string) string {
	const cn = "%u" // Mosquitto's pattern substitution of the user name
	var b strings.Builder
	b.WriteString(`# each gateway, identified by its certificate CN, owns <prefix>/<cn>/...,
# except that only ops writes its config/set; it reads the receipts the
# ingest signs for it
`)
	for _, r := range [][2]string{
		{"readwrite", topic.Health(prefix, cn)},
		{"readwrite", topic.Audit(prefix, cn)},
		{"readwrite", topic.Data(prefix, cn, "#")},
		{"readwrite", topic.ConfigStatus(prefix, cn)},
		{"read", topic.ConfigSet(prefix, cn)},
		{"read", topic.Receipt(prefix, cn)},
	} {
		fmt.Fprintf(&b, "pattern %s %s\n", r[0], r[1])
	}
	fmt.Fprintf(&b, "# tests only: a gateway's sync message orders their checks\npattern readwrite %s/%s/sync\n", prefix, cn)
	all := func(k topic.Kind) string { return topic.Filter(prefix, k) }
	for _, u := range []struct {
		name  string
		rules [][2]string
	}{
		{backend, [][2]string{{"read", all(topic.KindData)}, {"read", all(topic.KindHealth)}, {"read", all(topic.KindAudit)}}},
		{ops, [][2]string{{"write", all(topic.KindConfigSet)}, {"read", all(topic.KindConfigStatus)}}},
		{ingest, [][2]string{{"read", all(topic.KindData)}, {"read", all(topic.KindAudit)}, {"read", all(topic.KindHealth)},
			{"read", all(topic.KindConfigStatus)}, {"write", all(topic.KindReceipt)}}},
	} {
		fmt.Fprintf(&b, "\nuser %s\n", u.name)
		for _, r := range u.rules {
			fmt.Fprintf(&b, "topic %s %s\n", r[0], r[1])
		}
	}
	return b.String()
}

// Config returns the mosquitto.conf Start writes. persistDir must end with
// a slash. It keeps Debian's autosave_interval of 1800 s (a killed broker
// loses what it queued since its last save) and refuses packets larger than
// an envelope can be, as docs/operations.md advises.
func Config(port int, caFile, certFile, keyFile, aclFile, persistDir, logFile string, maxQueued int) string {
	return fmt.Sprintf(`# generated by uplinktest
# run as root: otherwise mosquitto drops to user mosquitto and cannot write
# its persistence and log files in a root-owned temp dir
user root
per_listener_settings false
allow_anonymous false

listener %d 127.0.0.1
protocol mqtt
cafile %s
certfile %s
keyfile %s
require_certificate true
use_identity_as_username true

acl_file %s

persistence true
persistence_location %s
autosave_interval 1800
# 0: tests deliver bursts to subscribers without dropping queued QoS 1
# messages, unless a test sets a limit
max_queued_messages %d
max_inflight_messages 100
max_packet_size %d

log_dest file %s
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S
`, port, caFile, certFile, keyFile, aclFile, persistDir, maxQueued, maxPacketSize, logFile)
}

// maxPacketSize is the largest MQTT packet the broker accepts: an envelope of
// the largest size with its topic and headers.
const maxPacketSize = 16<<20 + 64<<10

// Client issues a client certificate with common name cn and writes it with
// its key (mode 0600) into the broker's dir.
func (b *Broker) Client(t testing.TB, cn string) (certFile, keyFile string) {
	t.Helper()
	crt, key, err := b.CA.Issue(cn, false, nil, validity)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(b.Dir, "clients")
	if err := pki.WriteFiles(dir, cn, crt, key); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+".key")
}

// Stop terminates Mosquitto with SIGTERM, which saves its persistence, and
// waits for it to exit.
func (b *Broker) Stop() {
	b.t.Helper()
	if err := b.stop(); err != nil {
		b.t.Fatal(err)
	}
}

// Kill kills Mosquitto with SIGKILL, as a power cut would: what it did not
// save (autosave_interval 1800) is lost. Restart starts it again.
func (b *Broker) Kill() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Kill()
	<-b.exited
	b.cmd, b.exited = nil, nil
}

// Restart stops Mosquitto if it runs and starts it again on the same port
// with the same persistence.
func (b *Broker) Restart() {
	b.t.Helper()
	if err := b.stop(); err != nil {
		b.t.Fatal(err)
	}
	b.start()
}

// DumpLog writes Mosquitto's log into the test output.
func (b *Broker) DumpLog() {
	data, err := os.ReadFile(b.logFile)
	if err != nil {
		b.t.Logf("mqtttest: mosquitto log: %v", err)
		return
	}
	b.t.Logf("mqtttest: mosquitto log %s:\n%s", b.logFile, data)
}

func (b *Broker) start() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	cmd := exec.Command(b.bin, "-c", b.conf)
	out, err := os.OpenFile(filepath.Join(b.Dir, "mosquitto.out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("mqtttest: start mosquitto: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	b.cmd, b.exited = cmd, exited

	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-exited:
			b.dumpOut()
			b.DumpLog()
			b.t.Fatalf("mqtttest: mosquitto exited at start: %v", cmd.ProcessState)
		default:
		}
		c, err := net.DialTimeout("tcp", b.Addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.DumpLog()
			b.t.Fatalf("mqtttest: mosquitto not listening on %s after %v: %v", b.Addr, readyTimeout, err)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, bounded by the deadline
	}
}

func (b *Broker) stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return nil
	}
	cmd, exited := b.cmd, b.exited
	b.cmd, b.exited = nil, nil
	cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-exited:
		return nil
	case <-t.C:
		cmd.Process.Kill()
		<-exited
		return fmt.Errorf("mqtttest: mosquitto did not stop within %v, killed", stopTimeout)
	}
}

func (b *Broker) dumpOut() {
	if data, err := os.ReadFile(filepath.Join(b.Dir, "mosquitto.out")); err == nil && len(data) > 0 {
		b.t.Logf("mqtttest: mosquitto output:\n%s", data)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("mqtttest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
