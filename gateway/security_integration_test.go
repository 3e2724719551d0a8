package gateway_test

// Security tests: the evidence behind DESIGN.md's promise 2 (a stolen
// gateway or SD card reveals nothing it buffered) and promise 4 (the gateway
// opens no door), plus the file modes and broker ACL both depend on. Each
// test runs the real code against a real Mosquitto; most run the real
// binary.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"

	paho "github.com/eclipse/paho.mqtt.golang"
	"gopkg.in/yaml.v3"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/config"
	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/gateway/doctor"
	"github.com/edgegw/edgegw/gateway/fleet"
	"github.com/edgegw/edgegw/internal/poll"
	"github.com/edgegw/edgegw/internal/proctest"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

const securityWait = 60 * time.Second

// ---------------------------------------------------------------------------
// Promise 4: no network listener, a private control socket.

// TestSecurityNoListeningSockets proves promise 4, "the gateway opens no
// door", for every shipped configuration (configs/*.yaml, with keys, broker
// and hardware buses swapped for the test bed's and emulated ones) and for
// the test bed's own configuration with and without a control socket: the
// real `edgegw run`, connected to its broker and polling every device, holds
// no listening TCP socket and no bound UDP socket, and its only listening
// Unix socket is the control socket, mode 0660 in a directory of mode 0750
// (gateway/control.Server.Serve), removed when the agent stops.
func TestSecurityNoListeningSockets(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	bin := proctest.Edgegw(t)
	checkSocketDetectors(t)

	shipped, err := filepath.Glob("../configs/*.yaml")
	must.NoError(t, err)
	for _, want := range []string{"demo.yaml", "pi-junction.yaml", "meter-panel.yaml"} {
		if !slices.Contains(shipped, "../configs/"+want) {
			t.Errorf("configs/%s not found (have %v)", want, shipped)
		}
	}
	for _, path := range shipped {
		t.Run(filepath.Base(path), func(t *testing.T) {
			cfgPath, sock := adaptShippedConfig(t, path)
			cfg, err := config.Load(cfgPath)
			must.NoError(t, err)
			p := startBinary(t, bin, "run", "--config", cfgPath)
			waitConnectedPolling(t, p, sock, len(cfg.Devices))
			assertNoDoor(t, p.pid(), sock, true)
			p.stop(t)
			if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("control socket %s left behind after the agent stopped: %v", sock, err)
			}
		})
	}
	t.Run("bed", func(t *testing.T) {
		b := newBed(t, bedOptions{durability: 200 * time.Millisecond, maxDelay: 300 * time.Millisecond, maxBytes: "64MiB", maxReadings: 100})
		sock := filepath.Join(b.dir, "control.sock")
		p := startBinary(t, bin, "run", "--config", b.cfgPath)
		waitConnectedPolling(t, p, sock, len(b.devices))
		assertNoDoor(t, p.pid(), sock, false) // the bed's socket directory is the test's own
		p.stop(t)
	})
	t.Run("bed-control-off", func(t *testing.T) {
		b := newBed(t, bedOptions{durability: 200 * time.Millisecond, maxDelay: 300 * time.Millisecond, maxBytes: "64MiB", maxReadings: 100})
		rewriteFile(t, b.cfgPath, "control: {socket: "+filepath.Join(b.dir, "control.sock")+"}", "control: {socket: \"off\"}")
		c := b.subscribe(t)
		p := startBinary(t, bin, "run", "--config", b.cfgPath)
		poll.Until(t, securityWait, "readings at the backend (connected and polling)", func() bool { return c.count() > 0 })
		assertNoDoor(t, p.pid(), "", false)
		p.stop(t)
	})
}

// checkSocketDetectors proves the detectors see what they must report: a
// TCP listener, a bound UDP socket and a listening Unix socket of this very
// process. Without it, their silence about the agent would prove nothing.
func checkSocketDetectors(t *testing.T) {
	t.Helper()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	must.NoError(t, err)
	defer tl.Close()
	ul, err := net.ListenPacket("udp", "127.0.0.1:0")
	must.NoError(t, err)
	defer ul.Close()
	unixPath := filepath.Join(t.TempDir(), "probe.sock")
	xl, err := net.Listen("unix", unixPath)
	must.NoError(t, err)
	defer xl.Close()

	socks, err := doctor.ListeningSockets(os.Getpid())
	must.NoError(t, err)
	tcpPort := fmt.Sprintf(":%04X", tl.Addr().(*net.TCPAddr).Port)
	udpPort := fmt.Sprintf(":%04X", ul.LocalAddr().(*net.UDPAddr).Port)
	var sawTCP, sawUDP bool
	for _, s := range socks {
		sawTCP = sawTCP || strings.HasPrefix(s, "tcp") && strings.HasSuffix(s, tcpPort)
		sawUDP = sawUDP || strings.HasPrefix(s, "udp") && strings.HasSuffix(s, udpPort)
	}
	if !sawTCP || !sawUDP {
		t.Fatalf("doctor.ListeningSockets misses this process's own listeners (tcp%s %v, udp%s %v): %v", tcpPort, sawTCP, udpPort, sawUDP, socks)
	}
	if ux := listeningUnixSockets(t, os.Getpid()); !slices.Contains(ux, unixPath) {
		t.Fatalf("listeningUnixSockets misses this process's %s: %v", unixPath, ux)
	}
}

// assertNoDoor checks a running agent: no TCP listener, no bound UDP
// socket, and no listening Unix socket but the control socket sock (none
// when sock is ""), which is a socket file of mode 0660 (never accessible
// by others). With ownDir, the agent created the socket's directory, which
// must then be mode 0750.
func assertNoDoor(t *testing.T, pid int, sock string, ownDir bool) {
	t.Helper()
	socks, err := doctor.ListeningSockets(pid)
	if err != nil || len(socks) > 0 {
		t.Errorf("agent %d listens on the network: %v (err %v)", pid, socks, err)
	}
	ux := listeningUnixSockets(t, pid)
	if sock == "" {
		if len(ux) > 0 {
			t.Errorf("control socket off, yet the agent listens on Unix sockets %q", ux)
		}
		return
	}
	// The socket is bound under a temporary name in its directory and then
	// renamed; the kernel keeps the name it was bound with.
	if len(ux) != 1 || filepath.Dir(ux[0]) != filepath.Dir(sock) {
		t.Errorf("agent's listening Unix sockets = %q, want only the control socket in %s", ux, filepath.Dir(sock))
	}
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatalf("control socket: %v", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		t.Errorf("control socket %s is %v, not a Unix socket", sock, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm != 0o660 {
		t.Errorf("control socket %s has mode %#o, want 0660 (owner and viewer group only)", sock, perm)
	}
	if ownDir {
		di, err := os.Stat(filepath.Dir(sock))
		must.NoError(t, err)
		if perm := di.Mode().Perm(); perm != 0o750 {
			t.Errorf("control socket directory %s has mode %#o, want 0750", filepath.Dir(sock), perm)
		}
	}
}

// listeningUnixSockets returns the paths of the listening Unix sockets
// (abstract ones start with '@') process pid holds, from /proc/<pid>/fd and
// /proc/<pid>/net/unix.
func listeningUnixSockets(t *testing.T, pid int) []string {
	t.Helper()
	inodes := socketInodes(t, pid)
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/unix", pid))
	must.NoError(t, err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Scan() // header: Num RefCount Protocol Flags Type St Inode Path
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 7 || !inodes[fields[6]] {
			continue
		}
		flags, err := strconv.ParseUint(fields[3], 16, 32)
		if err != nil || flags&0x10000 == 0 { // __SO_ACCEPTCON: listening
			continue
		}
		path := "(unnamed)"
		if len(fields) > 7 {
			path = fields[7]
		}
		out = append(out, path)
	}
	must.NoError(t, sc.Err())
	return out
}

// socketInodes returns the inodes of the sockets process pid holds.
func socketInodes(t *testing.T, pid int) map[string]bool {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	must.NoError(t, err)
	out := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			out[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	return out
}

// adaptShippedConfig rewrites a shipped configuration for the test bed and
// returns its path and control socket: a Mosquitto for its gateway id and
// topic prefix, fresh identity and recipient keys, its state and control
// socket in a temp dir (the socket's directory does not exist yet), hardware
// buses replaced by the emulated ones of drivers/sim, and every device
// polled each second. Everything else is kept as shipped.
func adaptShippedConfig(t *testing.T, path string) (cfgPath, sock string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	must.NoError(t, err)
	var doc map[string]any
	must.NoError(t, yaml.Unmarshal(raw, &doc))
	gw := section(t, doc, "gateway")
	up := section(t, doc, "uplink")
	id, _ := gw["id"].(string)
	prefix, _ := up["topic_prefix"].(string)
	if prefix == "" {
		prefix = config.DefaultTopicPrefix
	}
	dir := t.TempDir()
	br := mqtttest.Start(t, mqtttest.Options{Prefix: prefix})
	cert, key := br.Client(t, id)
	keyDir := filepath.Join(dir, "keys")
	must.NoError(t, keys.InitIdentity(keyDir, id, false))
	gw["keys"], gw["state"] = keyDir, filepath.Join(dir, "state")
	up["broker"], up["ca"], up["cert"], up["key"] = br.URL, br.CAFile, cert, key
	up["backoff_min"], up["backoff_max"] = "100ms", "500ms"
	for class := range section(t, doc, "recipients") {
		rdir := filepath.Join(dir, "recipient-"+class)
		must.NoError(t, keys.GenerateRecipient(rdir, keys.SuiteX25519, false))
		section(t, doc, "recipients")[class] = filepath.Join(rdir, keys.RecipientPubFile)
	}
	sock = filepath.Join(dir, "run", "control.sock")
	if doc["control"] == nil {
		doc["control"] = map[string]any{}
	}
	section(t, doc, "control")["socket"] = sock
	devs, _ := doc["devices"].([]any)
	if len(devs) == 0 {
		t.Fatalf("%s: no devices", path)
	}
	for _, d := range devs {
		dev := d.(map[string]any)
		dev["interval"] = "1s"
		opts, _ := dev["options"].(map[string]any)
		for _, k := range []string{"bus", "port"} {
			if v, ok := opts[k].(string); ok {
				opts[k] = emulatedBus(t, v)
			}
		}
	}
	out, err := yaml.Marshal(doc)
	must.NoError(t, err)
	cfgPath = filepath.Join(dir, filepath.Base(path))
	must.NoError(t, os.WriteFile(cfgPath, out, 0o600))
	return cfgPath, sock
}

// section returns doc[name] as a map, failing the test when it is not one.
func section(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	m, ok := doc[name].(map[string]any)
	if !ok {
		t.Fatalf("configuration section %q is %T, want a mapping", name, doc[name])
	}
	return m
}

// emulatedBus maps a hardware bus or port to the emulated one of
// drivers/sim/bus.go, leaving emulated ones as they are.
func emulatedBus(t *testing.T, name string) string {
	t.Helper()
	switch {
	case strings.HasPrefix(name, "sim:"):
		return name
	case strings.HasPrefix(name, "/dev/i2c-"):
		return "sim:i2c-" + strings.TrimPrefix(name, "/dev/i2c-")
	case strings.HasPrefix(name, "/dev/spidev"):
		return "sim:spi" + strings.TrimPrefix(name, "/dev/spidev")
	case strings.HasPrefix(name, "/dev/ttyUSB"), strings.HasPrefix(name, "/dev/ttyAMA"):
		return "sim:rs485-1"
	}
	t.Fatalf("no emulated bus for %q: extend emulatedBus", name)
	return ""
}

// ---------------------------------------------------------------------------
// Key and state file modes.

// TestSecurityRefusesExposedKeys proves the agent will not run with a
// private key others may read: `edgegw run` exits with an error that names
// the file and the fix when the identity key or the TLS client key is
// group-readable (0640) or world-readable (0644), before polling anything;
// and it refuses a recipient private key given where the recipient's public
// key belongs (a gateway must never hold one). With the keys back at 0600
// the same configuration runs.
func TestSecurityRefusesExposedKeys(t *testing.T) {
	b := newBed(t, bedOptions{durability: 200 * time.Millisecond, maxDelay: 300 * time.Millisecond, maxBytes: "64MiB", maxReadings: 100})
	bin := proctest.Edgegw(t)
	cfg, err := config.Load(b.cfgPath)
	must.NoError(t, err)
	exposed := map[string]string{
		"identity key":   filepath.Join(cfg.Gateway.Keys, keys.IdentityKeyFile),
		"TLS client key": cfg.Uplink.Key,
	}
	for what, path := range exposed {
		for _, mode := range []fs.FileMode{0o640, 0o644} {
			must.NoError(t, os.Chmod(path, mode))
			out, err := runToExit(t, bin, "run", "--config", b.cfgPath)
			if err == nil {
				t.Errorf("%s mode %#o: the agent ran and exited cleanly; output:\n%s", what, mode, out)
			} else if !strings.Contains(out, path) || !strings.Contains(out, "chmod 600") {
				t.Errorf("%s mode %#o: %v; the error does not name %s and the fix:\n%s", what, mode, err, path, out)
			}
			must.NoError(t, os.Chmod(path, 0o600))
		}
	}

	recipientKey := filepath.Join(b.dir, "recipient-telemetry", keys.RecipientKeyFile)
	withPrivate := filepath.Join(b.dir, "recipient-private.yaml")
	data, err := os.ReadFile(b.cfgPath)
	must.NoError(t, err)
	must.NoError(t, os.WriteFile(withPrivate, bytes.Replace(data, []byte(cfg.Recipients["telemetry"]), []byte(recipientKey), 1), 0o600))
	if out, err := runToExit(t, bin, "run", "--config", withPrivate); err == nil || !strings.Contains(out, recipientKey) {
		t.Errorf("a recipient private key as recipients.telemetry: %v, want a refusal naming %s:\n%s", err, recipientKey, out)
	}

	if n := produced(b.traces(t)); n > 0 {
		t.Errorf("%d readings were polled by agents that should have refused to start", n)
	}
	// Control: the keys at 0600, the same configuration starts and runs.
	p := startBinary(t, bin, "run", "--config", b.cfgPath)
	waitConnectedPolling(t, p, filepath.Join(b.dir, "control.sock"), len(b.devices))
	p.stop(t)
}

// TestSecurityStateFileModes proves that what the agent writes to disk is
// readable by its own user only, whatever the umask: `edgegw run`, started
// with umask 000, creates its state directory 0700 and buffer.db (see
// buffer/doc.go), its .seq sidecar, audit.db and fleet.json 0600, and every
// other file it leaves in the state directory 0600 too, except the fleet
// files a technician reads: config/ is 0750 and the last-known-good
// configuration in it 0640 (group edgegw). Checked while it runs and after it
// stops.
func TestSecurityStateFileModes(t *testing.T) {
	b := newBed(t, bedOptions{durability: 200 * time.Millisecond, maxDelay: 300 * time.Millisecond, maxBytes: "64MiB", maxReadings: 100})
	bin := proctest.Edgegw(t)
	cfg, err := config.Load(b.cfgPath)
	must.NoError(t, err)
	if _, err := os.Stat(cfg.Gateway.State); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("state directory %s exists before the agent ran: %v", cfg.Gateway.State, err)
	}
	p := startBinaryUmask0(t, bin, "run", "--config", b.cfgPath)
	sock := filepath.Join(b.dir, "control.sock")
	waitConnectedPolling(t, p, sock, len(b.devices))
	poll.Until(t, securityWait, "a batch acknowledged by the broker", func() bool {
		st, err := control.Dial(sock).Status(context.Background())
		return err == nil && st.Uplink.Acknowledged > 0
	})
	if um := procUmask(t, p.pid()); um != "0000" {
		t.Fatalf("agent umask %s, want 0000: the test would prove nothing", um)
	}
	required := []string{gateway.BufferFile, gateway.BufferFile + ".seq", gateway.AuditFile, fleet.StateFile}
	checkPrivateTree(t, cfg.Gateway.State, required, true)
	p.stop(t)
	checkPrivateTree(t, cfg.Gateway.State, required, false)
	checkMode(t, filepath.Join(cfg.Gateway.State, fleet.ConfigDir, fleet.LastGoodFile), 0o640)
}

// checkPrivateTree requires dir and every directory under it to be mode
// 0700, every file in it 0600, and the required names to exist; the fleet
// files (fleet.ConfigDir) are 0750 and 0640 instead. With running, files may
// vanish while they are walked (atomic renames).
func checkPrivateTree(t *testing.T, dir string, required []string, running bool) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if running && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			if running && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		seen[rel] = true
		want := fs.FileMode(0o600)
		switch fleetFile := rel == fleet.ConfigDir || strings.HasPrefix(rel, fleet.ConfigDir+"/"); {
		case d.IsDir() && fleetFile:
			want = 0o750
		case d.IsDir():
			want = 0o700
		case fleetFile:
			want = 0o640
		}
		if perm := fi.Mode().Perm(); perm != want {
			t.Errorf("%s has mode %#o, want %#o", path, perm, want)
		}
		return nil
	})
	must.NoError(t, err)
	for _, name := range required {
		if !seen[name] {
			t.Errorf("%s not in the state directory (have %v)", name, slices.Sorted(maps.Keys(seen)))
		}
	}
}

// checkMode requires path to exist with mode want.
func checkMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if perm := fi.Mode().Perm(); perm != want {
		t.Errorf("%s has mode %#o, want %#o", path, perm, want)
	}
}

// procUmask returns the umask of process pid, as /proc/<pid>/status shows it.
func procUmask(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must.NoError(t, err)
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Umask in /proc/%d/status", pid)
	return ""
}

// TestSecurityKeyGenerationModes proves the key commands write private keys
// readable by their owner only, whatever the umask: under umask 000,
// `edgegw keys init`, `keys recipient` and `keys ops` create their directory
// 0700, the private key 0600 and the public key 0644; `keys init` does not
// replace an existing identity without --force, and --force over a key
// someone loosened to 0644 writes it back 0600.
func TestSecurityKeyGenerationModes(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	bin := proctest.Edgegw(t)
	dir := t.TempDir()
	for _, k := range []struct {
		args           []string
		sub, priv, pub string
	}{
		{[]string{"keys", "init", "--id", "gw-001"}, "keys", keys.IdentityKeyFile, keys.IdentityPubFile},
		{[]string{"keys", "recipient", "--suite", "mlkem768x25519"}, "recipient", keys.RecipientKeyFile, keys.RecipientPubFile},
		{[]string{"keys", "ops"}, "ops", "ops.key", "ops.pub"},
	} {
		sub := filepath.Join(dir, k.sub)
		if out, err := runToExitUmask0(t, bin, append(k.args, "--dir", sub)...); err != nil {
			t.Fatalf("%v: %v\n%s", k.args, err, out)
		}
		checkMode(t, sub, 0o700)
		checkMode(t, filepath.Join(sub, k.priv), 0o600)
		checkMode(t, filepath.Join(sub, k.pub), 0o644)
	}

	idKey := filepath.Join(dir, "keys", keys.IdentityKeyFile)
	before, err := os.ReadFile(idKey)
	must.NoError(t, err)
	if out, err := runToExitUmask0(t, bin, "keys", "init", "--id", "gw-001", "--dir", filepath.Join(dir, "keys")); err == nil || !strings.Contains(out, "already exists") {
		t.Errorf("keys init over an existing identity: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(idKey); !bytes.Equal(before, after) {
		t.Error("keys init without --force replaced the identity key")
	}
	must.NoError(t, os.Chmod(idKey, 0o644))
	if out, err := runToExitUmask0(t, bin, "keys", "init", "--id", "gw-001", "--force", "--dir", filepath.Join(dir, "keys")); err != nil {
		t.Fatalf("keys init --force: %v\n%s", err, out)
	}
	checkMode(t, idKey, 0o600)
}

// ---------------------------------------------------------------------------
// Promise 2: a stolen buffer reveals nothing.

// TestSecurityStolenBuffer proves promise 2 on the buffer as a thief takes
// it: with the broker down, the agent buffers sealed batches of both data
// classes, then stops. In the stolen buffer.db no device name appears in
// clear, every batch carries the gateway's valid signature, and every
// attempt to decrypt a batch with anything the gateway holds (every private
// key in its keys directory, state directory and TLS key file, read as
// Ed25519 seeds, X25519 scalars, ECDSA scalars and key-derivation input for
// both suites) fails: through crypto/envelope's Open, as is and with the
// batch's recipient key id pointed at the candidate so that the AEAD itself
// decides, and through crypto/hpke directly with the right info and
// associated data. The same harness with the recipients' private keys, which
// only the backend holds, opens every batch.
func TestSecurityStolenBuffer(t *testing.T) {
	b := newBed(t, bedOptions{durability: 100 * time.Millisecond, maxDelay: 300 * time.Millisecond, maxBytes: "64MiB", maxReadings: 50})
	b.br.Stop()
	a, stop := startAgent(t, b, 0)
	poll.Until(t, securityWait, "6 batches buffered with the broker down", func() bool { return a.Health().BufferBatches >= 6 })
	must.NoError(t, stop())
	cfg, err := config.Load(b.cfgPath)
	must.NoError(t, err)

	// The thief copies the card.
	stolen := filepath.Join(t.TempDir(), gateway.BufferFile)
	copyFile(t, filepath.Join(cfg.Gateway.State, gateway.BufferFile), stolen)
	copyFile(t, filepath.Join(cfg.Gateway.State, gateway.BufferFile+".seq"), stolen+".seq")
	raw, err := os.ReadFile(stolen)
	must.NoError(t, err)
	for _, d := range b.devices {
		if bytes.Contains(raw, []byte(d.name)) {
			t.Errorf("device name %q in clear in buffer.db", d.name)
		}
	}
	st, err := buffer.OpenBolt(stolen, buffer.Options{})
	must.NoError(t, err)
	batches, err := st.Next(0, 1<<20)
	must.NoError(t, errors.Join(err, st.Close()))

	secrets := gatewaySecrets(t, cfg)
	classes := map[string]int{}
	var attempts, aeadAttempts, opened int
	for _, bt := range batches {
		env, err := envelope.Parse(envelope.Marshal(bt.Header, bt.Chunks, bt.Trailer))
		must.NoError(t, err)
		if !env.Header.Suite.Encrypted() {
			continue // gap and audit records are signed, not sealed, by design
		}
		if err := env.Verify(b.trust); err != nil {
			t.Fatalf("batch %d: signature: %v", bt.Seq, err)
		}
		classes[bt.Class]++
		h := env.Header
		aad := chunkAAD(env.RawHeader, 0)

		// Control: the backend's keys open it, by both paths.
		rs, err := env.Open(b.rks...)
		if err != nil || len(rs) != bt.Readings {
			t.Fatalf("batch %d: the recipient keys open %d of %d readings: %v", bt.Seq, len(rs), bt.Readings, err)
		}
		for _, rk := range b.rks {
			if rk.Suite == h.Suite && bytes.Equal(rk.KID(), h.RecipientKID) {
				if _, err := hpkeOpen(h, rk.Key, aad, env.Chunks[0]); err != nil {
					t.Fatalf("batch %d: direct HPKE with the recipient key: %v", bt.Seq, err)
				}
			}
		}

		for name, secret := range secrets {
			for _, suite := range []keys.Suite{keys.SuiteX25519, keys.SuiteMLKEM768X25519} {
				for _, k := range candidateKeys(suite, secret) {
					rk, err := keys.NewRecipientPrivate(suite, k)
					must.NoError(t, err)
					attempts++
					if _, err := env.Open(rk); err == nil {
						opened++
						t.Errorf("batch %d (%s) opened with %s as a %s key", bt.Seq, bt.Class, name, suite)
					}
					if suite != h.Suite {
						continue
					}
					aeadAttempts++
					env.Header.RecipientKID = rk.KID() // make Open try it
					_, err = env.Open(rk)
					env.Header.RecipientKID = h.RecipientKID
					if err == nil {
						opened++
						t.Errorf("batch %d (%s) decrypted through envelope.Open with %s", bt.Seq, bt.Class, name)
					}
					if pt, err := hpkeOpen(h, k, aad, env.Chunks[0]); err == nil {
						opened++
						t.Errorf("batch %d (%s) chunk 0 decrypted by HPKE with %s: %d bytes", bt.Seq, bt.Class, name, len(pt))
					}
				}
			}
		}
	}
	if classes["telemetry"] == 0 || classes["personal"] == 0 {
		t.Fatalf("sealed batches by class %v, want both telemetry and personal", classes)
	}
	if aeadAttempts == 0 {
		t.Fatal("no decryption attempt reached the AEAD")
	}
	t.Logf("%d sealed batches %v, %d secrets held by the gateway: %d of %d decryption attempts (%d reaching the AEAD) succeeded",
		classes["telemetry"]+classes["personal"], classes, len(secrets), opened, attempts+2*aeadAttempts, aeadAttempts)
}

// gatewaySecrets returns, by a descriptive name, every candidate secret in
// what the gateway holds: the files of its keys and state directories, its
// TLS key, certificate and CA, its recipients' public keys and its
// configuration. PEM private keys give their raw scalars or seeds (and an
// Ed25519 seed its X25519 form); every other base64 word of 32 bytes or
// more is taken as is. A recipient private key among them fails the test.
func gatewaySecrets(t *testing.T, cfg *config.Config) map[string][]byte {
	t.Helper()
	files := []string{cfg.File, cfg.Uplink.Key, cfg.Uplink.Cert, cfg.Uplink.CA}
	for _, p := range cfg.Recipients {
		files = append(files, p)
	}
	for _, dir := range []string{cfg.Gateway.Keys, cfg.Gateway.State} {
		must.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				files = append(files, path)
			}
			return err
		}))
	}
	out := map[string][]byte{}
	add := func(name string, b []byte) {
		if len(b) > 0 {
			out[name] = b
		}
	}
	var sawIdentity, sawTLS bool
	for _, path := range files {
		data, err := os.ReadFile(path)
		must.NoError(t, err)
		rest := data
		for n := 0; ; n++ {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			name := fmt.Sprintf("%s PEM #%d (%s)", filepath.Base(path), n, blk.Type)
			add(name+" DER", blk.Bytes)
			var key any
			switch blk.Type {
			case "PRIVATE KEY":
				key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
			case "EC PRIVATE KEY":
				key, err = x509.ParseECPrivateKey(blk.Bytes)
			case "RSA PRIVATE KEY":
				key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
			case "EDGEGW HPKE PRIVATE KEY":
				t.Fatalf("the gateway holds a recipient private key: %s", path)
			}
			must.NoError(t, err)
			switch k := key.(type) {
			case ed25519.PrivateKey:
				sawIdentity = sawIdentity || path == filepath.Join(cfg.Gateway.Keys, keys.IdentityKeyFile)
				h := sha512.Sum512(k.Seed())
				add(name+" Ed25519 seed", k.Seed())
				add(name+" Ed25519 seed as X25519 scalar", h[:32])
			case *ecdsa.PrivateKey:
				sawTLS = sawTLS || path == cfg.Uplink.Key
				s, err := k.Bytes()
				must.NoError(t, err)
				add(name+" ECDSA scalar", s)
			case *ecdh.PrivateKey:
				add(name+" ECDH scalar", k.Bytes())
			case *rsa.PrivateKey:
				add(name+" RSA exponent", k.D.Bytes())
			}
		}
		if !bytes.Contains(data, []byte("-----BEGIN")) {
			for i, word := range strings.Fields(string(data)) {
				if b, err := base64.StdEncoding.DecodeString(word); err == nil && len(b) >= 32 {
					add(fmt.Sprintf("%s word %d", filepath.Base(path), i), b)
				}
			}
		}
	}
	if !sawIdentity || !sawTLS {
		t.Fatalf("the harness found no identity key (%v) or TLS key (%v) among %v", sawIdentity, sawTLS, files)
	}
	return out
}

// candidateKeys returns the private keys of suite a thief can make from
// secret: the secret as a serialized private key (when it is one) and the
// key pair derived from it.
func candidateKeys(suite keys.Suite, secret []byte) []hpke.PrivateKey {
	var out []hpke.PrivateKey
	if k, err := suite.KEM().NewPrivateKey(secret); err == nil {
		out = append(out, k)
	}
	if len(secret) >= 32 {
		if k, err := suite.KEM().DeriveKeyPair(secret); err == nil {
			out = append(out, k)
		}
	}
	return out
}

// hpkeOpen opens one chunk with crypto/hpke directly, bypassing
// crypto/envelope: the header's suite and encapsulated key, the envelope's
// HPKE info and the chunk's associated data.
func hpkeOpen(h envelope.Header, k hpke.PrivateKey, aad, chunk []byte) ([]byte, error) {
	r, err := hpke.NewRecipient(h.Enc, k, h.Suite.KDF(), h.Suite.AEAD(), []byte(envelope.HPKEInfo))
	if err != nil {
		return nil, err
	}
	return r.Open(aad, chunk)
}

// chunkAAD is the associated data of chunk i as docs/envelope.md specifies
// it: SHA-256 of the header bytes, then i as a big-endian uint32.
func chunkAAD(header []byte, i uint32) []byte {
	hh := sha256.Sum256(header)
	return binary.BigEndian.AppendUint32(hh[:], i)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	must.NoError(t, err)
	must.NoError(t, os.WriteFile(dst, data, 0o600))
}

// ---------------------------------------------------------------------------
// Broker ACL.

// TestSecurityGatewayACL proves, on a real Mosquitto with the ACL edgegw
// expects from production brokers (mqtttest.ACL, docs/operations.md),
// what TestIntegrationACL (gw-002 publishing gw-001's data, reading gw-001's
// topics) and TestIntegrationConfigPush (reading gw-001's config/set) leave
// out: a gateway's certificate cannot publish to another gateway's health,
// audit, gap, config/status or config/set topics; cannot write its own
// config/set, neither to replace the signed configuration retained there nor
// to clear it; and subscribed to '#' it is sent nothing but its own topics.
func TestSecurityGatewayACL(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	br := mqtttest.Start(t, mqtttest.Options{})
	const (
		doc1 = "signed-config-for-gw-001"
		doc2 = "signed-config-for-gw-002"
	)
	ops := mqttConnect(t, br, br.Ops, "ops")
	mqttPublish(t, ops, "city/gw-001/config/set", true, doc1)
	mqttPublish(t, ops, "city/gw-002/config/set", true, doc2)
	gw1 := mqttConnect(t, br, "gw-001", "gw-001")
	mqttPublish(t, gw1, "city/gw-001/health", true, "gw-001-health")

	// gw-001 watches everything under its id.
	var watch1 inbox
	mqttSubscribe(t, mqttConnect(t, br, "gw-001", "gw-001-watch"), &watch1, "city/gw-001/#")
	poll.Until(t, securityWait, "gw-001's retained configuration", func() bool { return watch1.has("city/gw-001/config/set", doc1) })

	// gw-002 forges gw-001's topics, and gw-001 writes its own config/set:
	// a replacement, then an empty retained message, which would clear it.
	forged := []struct{ cn, topic, payload string }{
		{"gw-002", "city/gw-001/health", "forged-health"},
		{"gw-002", "city/gw-001/audit", "forged-audit"},
		{"gw-002", "city/gw-001/data/gap", "forged-gap"},
		{"gw-002", "city/gw-001/config/status", "forged-status"},
		{"gw-002", "city/gw-001/config/set", "forged-config"},
		{"gw-001", "city/gw-001/config/set", "self-written-config"},
		{"gw-001", "city/gw-001/config/set", ""},
	}
	for i, f := range forged {
		deniedPublish(t, br, f.cn, fmt.Sprintf("%s-forge-%d", f.cn, i), f.topic, f.payload)
	}
	// Every forged publish was acknowledged (processed) before gw-001's
	// sync message was sent: anything the broker routed is queued before it.
	mqttPublish(t, mqttConnect(t, br, "gw-001", "gw-001-sync"), "city/gw-001/sync", false, "sync")
	poll.Until(t, securityWait, "gw-001's sync message", func() bool { return watch1.has("city/gw-001/sync", "sync") })
	for _, m := range watch1.snapshot() {
		for _, f := range forged {
			if m.topic == f.topic && m.payload == f.payload {
				t.Errorf("%s's publish on %s reached gw-001: %q", f.cn, f.topic, m.payload)
			}
		}
	}
	// The retained configuration is still the one ops published: a new
	// subscriber is sent it before a message published after subscribing.
	var fresh inbox
	mqttSubscribe(t, mqttConnect(t, br, "gw-001", "gw-001-fresh"), &fresh, "city/gw-001/config/set", "city/gw-001/sync")
	mqttPublish(t, mqttConnect(t, br, "gw-001", "gw-001-sync2"), "city/gw-001/sync", false, "sync-2")
	poll.Until(t, securityWait, "gw-001's second sync message", func() bool { return fresh.has("city/gw-001/sync", "sync-2") })
	if m := fresh.snapshot(); len(m) != 2 || m[0].topic != "city/gw-001/config/set" || m[0].payload != doc1 || !m[0].retained {
		t.Errorf("a new subscriber to city/gw-001/config/set got %+v, want only ops's retained %q", m, doc1)
	}

	// gw-002 subscribes to everything; it receives its own retained
	// configuration, then its sync message, and nothing of gw-001's:
	// neither retained messages nor gw-001's live data.
	var all inbox
	gw2 := mqttConnect(t, br, "gw-002", "gw-002-all")
	granted := mqttSubscribe(t, gw2, &all, "#", "city/+/config/set")
	t.Logf("SUBACK for gw-002's wildcard subscriptions: %v (Mosquitto's ACL file filters each delivery)", granted)
	mqttPublish(t, gw1, "city/gw-001/data/telemetry", false, "gw-001-data")
	mqttPublish(t, mqttConnect(t, br, "gw-002", "gw-002-sync"), "city/gw-002/sync", false, "sync")
	poll.Until(t, securityWait, "gw-002's sync message", func() bool { return all.has("city/gw-002/sync", "sync") })
	if !all.has("city/gw-002/config/set", doc2) {
		t.Errorf("gw-002 subscribed to '#' did not receive its own configuration: the check proves nothing")
	}
	for _, m := range all.snapshot() {
		if !strings.HasPrefix(m.topic, "city/gw-002/") {
			t.Errorf("gw-002 subscribed to '#' received %s: %q", m.topic, m.payload)
		}
	}
}

// mqttMessage is a message a test client received.
type mqttMessage struct {
	topic, payload string
	retained       bool
}

// inbox collects the messages of a subscription.
type inbox struct {
	mu   sync.Mutex
	msgs []mqttMessage
}

func (in *inbox) handle(_ paho.Client, m paho.Message) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.msgs = append(in.msgs, mqttMessage{m.Topic(), string(m.Payload()), m.Retained()})
}

func (in *inbox) snapshot() []mqttMessage {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.msgs)
}

func (in *inbox) has(topic, payload string) bool {
	return slices.ContainsFunc(in.snapshot(), func(m mqttMessage) bool { return m.topic == topic && m.payload == payload })
}

// mqttConnect connects a clean-session client with cn's certificate.
func mqttConnect(t *testing.T, br *mqtttest.Broker, cn, clientID string) paho.Client {
	t.Helper()
	certFile, keyFile := br.Client(t, cn)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	must.NoError(t, err)
	caPEM, err := os.ReadFile(br.CAFile)
	must.NoError(t, err)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate")
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(br.URL).SetClientID(clientID).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetTLSConfig(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	tok := c.Connect()
	if !tok.WaitTimeout(securityWait) || tok.Error() != nil {
		t.Fatalf("%s: connect: %v", cn, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(10) })
	return c
}

// mqttPublish publishes at QoS 1 and waits for the PUBACK.
func mqttPublish(t *testing.T, c paho.Client, topic string, retained bool, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, retained, []byte(payload))
	if !tok.WaitTimeout(securityWait) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// mqttSubscribe subscribes at QoS 1 and returns the SUBACK's return codes.
func mqttSubscribe(t *testing.T, c paho.Client, in *inbox, filters ...string) map[string]byte {
	t.Helper()
	subs := map[string]byte{}
	for _, f := range filters {
		subs[f] = 1
	}
	tok := c.SubscribeMultiple(subs, in.handle)
	if !tok.WaitTimeout(securityWait) || tok.Error() != nil {
		t.Fatalf("subscribe %v: %v", filters, tok.Error())
	}
	return tok.(*paho.SubscribeToken).Result()
}

// deniedPublish publishes a retained QoS 1 message with cn's certificate
// and returns once the broker has acknowledged it, which proves the broker
// processed it. Mosquitto acknowledges a publish its ACL denies, drops it
// and closes the connection, sometimes before the PUBACK is read: each try
// uses a fresh connection.
func deniedPublish(t *testing.T, br *mqtttest.Broker, cn, clientID, topic, payload string) {
	t.Helper()
	for i := 0; ; i++ {
		c := mqttConnect(t, br, cn, fmt.Sprintf("%s-%d", clientID, i))
		tok := c.Publish(topic, 1, true, []byte(payload))
		if tok.WaitTimeout(securityWait) && tok.Error() == nil {
			return
		}
		if i == 10 {
			t.Fatalf("%s's publish on %s never acknowledged: %v", cn, topic, tok.Error())
		}
	}
}

// ---------------------------------------------------------------------------
// Running the binary.

// agentProcess is a running `edgegw` child process.
type agentProcess struct {
	cmd     *exec.Cmd
	log     string
	done    chan struct{}
	waitErr error
}

func (p *agentProcess) pid() int { return p.cmd.Process.Pid }

// startBinary starts bin with args, its output in a log file shown if the
// test fails; the process is killed at the end of the test if still running.
func startBinary(t *testing.T, bin string, args ...string) *agentProcess {
	t.Helper()
	return startCmd(t, exec.Command(bin, args...))
}

// startBinaryUmask0 is startBinary with the child's umask 000.
func startBinaryUmask0(t *testing.T, bin string, args ...string) *agentProcess {
	t.Helper()
	return startCmd(t, exec.Command("/bin/sh", append([]string{"-c", `umask 000 && exec "$0" "$@"`, bin}, args...)...))
}

func startCmd(t *testing.T, cmd *exec.Cmd) *agentProcess {
	t.Helper()
	logf, err := os.CreateTemp(t.TempDir(), "agent-*.log")
	must.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	must.NoError(t, cmd.Start())
	p := &agentProcess{cmd: cmd, log: logf.Name(), done: make(chan struct{})}
	go func() { p.waitErr = cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			out, _ := os.ReadFile(p.log)
			t.Logf("%v output:\n%s", cmd.Args, out)
		}
	})
	return p
}

// exited reports whether the process has exited.
func (p *agentProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and requires a clean exit within the deadline.
func (p *agentProcess) stop(t *testing.T) {
	t.Helper()
	must.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(securityWait):
		t.Fatalf("agent did not stop within %v of SIGTERM", securityWait)
	}
	if p.waitErr != nil {
		t.Errorf("agent exit: %v", p.waitErr)
	}
}

// waitConnectedPolling waits until the agent's control socket reports the
// uplink connected and every one of n devices polled at least once.
func waitConnectedPolling(t *testing.T, p *agentProcess, sock string, n int) {
	t.Helper()
	cl := control.Dial(sock)
	var last string
	poll.Until(t, securityWait, "the agent connected and polling every device", func() bool {
		if p.exited() {
			t.Fatalf("agent exited: %v", p.waitErr)
		}
		st, err := cl.Status(context.Background())
		if err != nil {
			last = err.Error()
			return false
		}
		last = fmt.Sprintf("connected %v, devices %+v", st.Uplink.Connected, st.Devices)
		if !st.Uplink.Connected || len(st.Devices) != n {
			return false
		}
		for _, d := range st.Devices {
			if d.Polls == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("agent %d: %s", p.pid(), last)
}

// runToExit runs bin with args and returns its combined output and exit
// error; it fails the test if the process runs past the deadline.
func runToExit(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	return runCmdToExit(t, exec.Command(bin, args...))
}

// runToExitUmask0 is runToExit with the child's umask 000.
func runToExitUmask0(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	return runCmdToExit(t, exec.Command("/bin/sh", append([]string{"-c", `umask 000 && exec "$0" "$@"`, bin}, args...)...))
}

func runCmdToExit(t *testing.T, cmd *exec.Cmd) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(securityWait):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v still running after %v:\n%s", cmd.Args, securityWait, out.String())
		return "", nil
	}
}

// rewriteFile replaces old by new in the file at path, which must contain it.
func rewriteFile(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	must.NoError(t, err)
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	must.NoError(t, os.WriteFile(path, bytes.Replace(data, []byte(old), []byte(new), 1), 0o600))
}
