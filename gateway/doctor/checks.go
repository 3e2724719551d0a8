package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/receipt"
	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/fleet"
)

// config finds the configuration the agent runs (the operator's file, or
// the one fleet operations applied in the state directory) and checks it as
// `edgegw run` does; where fleet operations write, it checks that they can.
func (c *checker) config() {
	src, err := fleet.Resolve(c.o.Config)
	if err == nil {
		err = gateway.CheckConfig(src.Config)
	}
	if _, serr := os.Stat(c.o.Config); errors.Is(serr, fs.ErrNotExist) {
		c.add("config", Fail, "the configuration file "+c.o.Config+" does not exist",
			"give the agent's configuration with --config FILE, or install one: `sudo cp /usr/share/doc/edgegw/examples/pi-junction.yaml "+c.o.Config+"` and edit it (docs/operations.md, step 6)")
		return
	}
	if err != nil {
		file := c.o.Config
		if src != nil {
			file = src.Path
		}
		c.add("config", Fail, firstLines(err.Error(), 3), "fix the lines named above; `edgegw config validate "+file+"` lists every error")
		return
	}
	cfg := src.Config
	c.cfg = cfg
	c.add("config", Pass, fmt.Sprintf("%s valid: gateway %s, %d devices, version %d", src.Path, cfg.Gateway.ID, len(cfg.Devices), cfg.Version), "")
	switch {
	case src.Origin == fleet.OriginApplied && editedAfter(src.Operator, src.Applied):
		c.add("config source", Warn, "the agent runs "+src.Path+", applied by fleet operations or `edgegw config apply`; "+src.Operator+" was edited after it and is not used: "+src.Note,
			fmt.Sprintf("to run your edits, give %s `version: %d` (or higher) and restart edgegw, or apply it with `sudo edgegw config apply %s`", src.Operator, cfg.Version+1, src.Operator))
	case src.Origin == fleet.OriginApplied:
		c.add("config source", Pass, "the agent runs "+src.Path+", applied by fleet operations or `edgegw config apply`; "+src.Note, "")
	case src.Note != "":
		c.add("config source", Warn, "the agent runs "+src.Path+": "+src.Note, "nothing to do unless fleet operations expect their configuration to run: `edgegw config status` shows what they sent")
	default:
		c.add("config source", Pass, "the agent runs "+src.Path+", the operator's file", "")
	}
	if cfg.Fleet.Trust == "" {
		return
	}
	dir := fleet.Dir(cfg)
	for probe := dir; ; probe = filepath.Dir(probe) {
		if _, err := os.Stat(probe); err == nil || probe == "/" || probe == "." {
			dir = probe
			break
		}
	}
	if err := unix.Access(dir, unix.W_OK); err != nil {
		c.add("fleet files", Fail, fmt.Sprintf("%s is not writable for this user: %v; pushed configurations, `config apply` and key rotations would be rejected", dir, err),
			"run the doctor as the service user (sudo -u edgegw); chown -R edgegw:edgegw "+cfg.Gateway.State)
		return
	}
	c.add("fleet files", Pass, fleet.Dir(cfg)+": pushed configurations, the last-known-good and rotated ops keys are kept here", "")
}

// editedAfter reports whether file a was modified after file b.
func editedAfter(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && fa.ModTime().After(fb.ModTime())
}

// keys checks the private key files' modes and that the identity is the
// configured gateway's, and loads the recipient keys.
func (c *checker) keys() {
	keyFile := filepath.Join(c.cfg.Gateway.Keys, keys.IdentityKeyFile)
	modeErr := keys.CheckPrivateFileMode(keyFile)
	id, err := keys.LoadIdentity(c.cfg.Gateway.Keys)
	switch {
	case errors.Is(modeErr, fs.ErrNotExist):
		c.add("identity key", Fail, modeErr.Error(), "create it with `edgegw keys init --dir "+c.cfg.Gateway.Keys+" --id "+c.cfg.Gateway.ID+"`")
	case modeErr != nil:
		c.add("identity key", Fail, modeErr.Error(), "chmod 600 "+keyFile+" (and chown edgegw: the agent refuses a key others can read)")
	case err != nil:
		c.add("identity key", Fail, err.Error(), "restore the identity of "+c.cfg.Gateway.ID+" from its backup; `edgegw keys init --force` makes a new one, which the backend must then trust")
	case id.ID != c.cfg.Gateway.ID:
		c.add("identity key", Fail, fmt.Sprintf("identity in %s is for %q, the config is for %q", c.cfg.Gateway.Keys, id.ID, c.cfg.Gateway.ID), "point gateway.keys at this gateway's keys")
	default:
		c.add("identity key", Pass, fmt.Sprintf("%s: %s, mode 0600", c.cfg.Gateway.Keys, id.Public()), "")
	}
	if err := keys.CheckPrivateFileMode(c.cfg.Uplink.Key); errors.Is(err, os.ErrNotExist) {
		c.add("tls client key", Fail, err.Error(), "install the key issued with the client certificate, mode 0600")
	} else if err != nil {
		c.add("tls client key", Fail, err.Error(), "chmod 600 "+c.cfg.Uplink.Key)
	} else {
		c.add("tls client key", Pass, c.cfg.Uplink.Key+": mode 0600", "")
	}
	var bad, private []string
	for _, class := range slices.Sorted(maps.Keys(c.cfg.Recipients)) {
		path := c.cfg.Recipients[class]
		_, err := keys.LoadRecipientPublic(path)
		switch {
		case errors.Is(err, keys.ErrRecipientPrivate):
			private = append(private, path)
			bad = append(bad, fmt.Sprintf("%s: %s is a recipient PRIVATE key, not the public key", class, path))
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", class, err))
		}
	}
	switch {
	case len(private) > 0:
		c.add("recipient keys", Fail, joinNames(bad)+": a private key opens the readings and must never be on a gateway",
			"shred -u "+strings.Join(private, " ")+", tell the backend team (that key is exposed: they make a new pair) and install the .pub file they send (`edgegw keys recipient --name NAME` writes NAME.pub)")
	case len(bad) > 0:
		c.add("recipient keys", Fail, joinNames(bad), "copy each class's NAME.pub from the backend team (`edgegw keys recipient --name NAME` writes it)")
	default:
		c.add("recipient keys", Pass, fmt.Sprintf("%d classes", len(c.cfg.Recipients)), "")
	}
	switch pinned, err := receipt.LoadKeys(c.cfg.Uplink.Receipts...); {
	case len(c.cfg.Uplink.Receipts) == 0:
		c.add("receipt keys", Warn, "uplink.receipts is not set: a batch is deleted on the broker's PUBACK, so a broker crash, a full broker queue or an ACL-denied publish loses it",
			"pin the backend ingest's public key (from the backend team): uplink: {receipts: [/etc/edgegw/ingest.pub]}")
	case err != nil:
		c.add("receipt keys", Fail, err.Error(), "install the ingest public key files named in uplink.receipts, one edgegw-ed25519 line per key")
	default:
		ids := make([]string, len(pinned))
		for i, p := range pinned {
			ids[i] = p.ID
		}
		c.add("receipt keys", Pass, "pinned ingest keys: "+joinNames(ids), "")
	}
}

// certificates verifies the client certificate against the pinned CA, its
// identity and its expiry.
func (c *checker) certificates() {
	now := c.o.Now()
	cert, err := loadCert(c.cfg.Uplink.Cert)
	if err != nil {
		c.add("certificate", Fail, err.Error(), "install the client certificate issued for "+c.cfg.Gateway.ID)
		return
	}
	pool, err := loadPool(c.cfg.Uplink.CA)
	if err != nil {
		c.add("certificate", Fail, err.Error(), "install the broker's CA bundle")
		return
	}
	c.certCN = cert.Subject.CommonName
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	left := cert.NotAfter.Sub(now)
	switch {
	case err != nil:
		c.add("certificate", Fail, fmt.Sprintf("%s does not verify against %s: %v", c.cfg.Uplink.Cert, c.cfg.Uplink.CA, err), "install a client certificate signed by the pinned CA, valid now")
	case cert.Subject.CommonName != c.cfg.Gateway.ID:
		c.add("certificate", Fail, fmt.Sprintf("certificate CN %q is not the gateway id %q: the broker's ACL would confine the gateway to another's topics", cert.Subject.CommonName, c.cfg.Gateway.ID), "issue the certificate with CN = "+c.cfg.Gateway.ID)
	case left < 30*24*time.Hour:
		c.add("certificate", Warn, fmt.Sprintf("expires %s, in %d days", cert.NotAfter.Format("2006-01-02"), int(left.Hours()/24)), "renew the client certificate before it expires")
	default:
		c.add("certificate", Pass, fmt.Sprintf("CN %s, chain valid, expires %s (%d days)", cert.Subject.CommonName, cert.NotAfter.Format("2006-01-02"), int(left.Hours()/24)), "")
	}
}

func loadCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return x509.ParseCertificate(block.Bytes)
}

func loadPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return pool, nil
}

// clock checks the kernel's synchronisation state and the time's sanity.
func (c *checker) clock() {
	now := c.o.Now()
	switch {
	case c.o.Synced != nil && c.o.Synced():
		c.add("clock", Pass, "synchronised (kernel NTP state), "+now.UTC().Format(time.RFC3339), "")
	case now.Year() < 2026:
		c.add("clock", Fail, "the clock reads "+now.UTC().Format(time.RFC3339)+": it was never set", "enable NTP: `timedatectl set-ntp true` (systemd-timesyncd) or install chrony")
	default:
		c.add("clock", Warn, "not synchronised: readings are flagged clock-unsynced", "enable NTP: `timedatectl set-ntp true` (systemd-timesyncd) or install chrony")
	}
}

// broker resolves, connects, completes a TLS handshake with the gateway's
// own certificate and an MQTT CONNECT, so that a broker that refuses the
// certificate (another CA, expired) fails the check.
func (c *checker) broker() {
	u, err := url.Parse(c.cfg.Uplink.Broker)
	if err != nil {
		c.add("broker", Fail, err.Error(), "fix uplink.broker")
		return
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "8883"
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.o.Timeout)
	defer cancel()
	if net.ParseIP(host) == nil {
		addrs, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			c.add("broker dns", Fail, err.Error(), "check /etc/resolv.conf and the cellular link")
			return
		}
		c.add("broker dns", Pass, host+" → "+joinNames(addrs), "")
	}
	d := &net.Dialer{Timeout: c.o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		c.add("broker tcp", Fail, err.Error(), "check the link and that the broker listens on port "+port)
		return
	}
	c.add("broker tcp", Pass, "connected to "+conn.RemoteAddr().String(), "")
	pair, err := tls.LoadX509KeyPair(c.cfg.Uplink.Cert, c.cfg.Uplink.Key)
	pool, perr := loadPool(c.cfg.Uplink.CA)
	if err = errors.Join(err, perr); err != nil {
		conn.Close()
		c.add("broker tls", Fail, err.Error(), "install the certificate, key and CA named in uplink")
		return
	}
	tc := tls.Client(conn, &tls.Config{ServerName: host, RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
	defer tc.Close()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.add("broker tls", Fail, err.Error(), "the broker must present a certificate from the pinned CA for "+host+" and accept this client certificate")
		return
	}
	st := tc.ConnectionState()
	server := fmt.Sprintf("%s handshake with the client certificate (server %s)", tls.VersionName(st.Version), st.PeerCertificates[0].Subject.CommonName)
	// Under TLS 1.3 the broker checks the client certificate after the
	// client's side of the handshake is done: its refusal arrives on the
	// first read. An MQTT CONNECT and its CONNACK show whether the broker
	// took this gateway's certificate.
	clientID := c.cfg.Uplink.ClientID
	if c.o.AgentPID != 0 {
		clientID += "-doctor" // the agent's own id would take over its session
	}
	if deadline, ok := ctx.Deadline(); ok {
		tc.SetDeadline(deadline)
	}
	code, err := mqttConnect(tc, clientID)
	switch {
	case err != nil:
		c.add("broker tls", Fail, fmt.Sprintf("%s, then the broker refused the connection after the handshake (client certificate CN %q): %v", server, c.certCN, err),
			"install a client certificate the broker accepts: issued by the city's CA for "+c.cfg.Gateway.ID+" and valid now (the broker's log names its reason)")
	case code != 0:
		c.add("broker tls", Fail, fmt.Sprintf("%s, then the broker refused MQTT CONNECT as client %q: %s", server, clientID, connackReason(code)),
			"ask the broker's operators to admit "+c.cfg.Gateway.ID+" (certificate identity, client id and ACL)")
	default:
		c.add("broker tls", Pass, fmt.Sprintf("%s; MQTT CONNECT accepted as %q", server, clientID), "")
	}
}

// busOptions are the device options that name a bus or port.
var busOptions = []string{"bus", "port"}

// buses checks that each configured bus or port exists and is accessible.
func (c *checker) buses() {
	seen := map[string]bool{}
	for _, d := range c.cfg.Devices {
		for _, opt := range busOptions {
			name, _ := d.Options[opt].(string)
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			st, detail, fix := busStatus(name, drivers.BusKindOf(d.Driver))
			c.add("bus "+name, st, detail, fix)
		}
	}
}

// busStatus checks one bus or port of the given kind.
func busStatus(name string, kind drivers.BusKind) (Status, string, string) {
	if strings.Contains(name, ":") {
		return Pass, "emulated bus", ""
	}
	path := devicePath(name)
	fi, err := os.Stat(path)
	if err != nil {
		return Fail, path + " does not exist", kind.Enable()
	}
	group := ""
	if st, ok := fi.Sys().(*unix.Stat_t); ok {
		if g, err := user.LookupGroupId(strconv.Itoa(int(st.Gid))); err == nil {
			group = g.Name
		}
	}
	if err := unix.Access(path, unix.R_OK|unix.W_OK); err != nil {
		return Fail, fmt.Sprintf("%s: no read/write access (mode %v, group %s)", path, fi.Mode().Perm(), group), "add the service user to group " + group + ": `usermod -aG " + group + " edgegw`"
	}
	return Pass, fmt.Sprintf("%s accessible (group %s)", path, group), ""
}

// devicePath maps a bus name to its device file: "1" and "I2C1" are
// /dev/i2c-1; paths stay as they are.
func devicePath(name string) string {
	if strings.HasPrefix(name, "/") {
		return name
	}
	n := strings.TrimPrefix(strings.ToUpper(name), "I2C")
	if _, err := strconv.Atoi(n); err == nil {
		return "/dev/i2c-" + n
	}
	return filepath.Join("/dev", name)
}

// devices polls each device once, when the agent does not run (a running
// agent owns the buses: `edgegw status` shows how its polls go).
func (c *checker) devices() {
	if c.o.AgentPID != 0 {
		c.add("devices", Pass, fmt.Sprintf("polled by the running agent (pid %d): see `edgegw status`", c.o.AgentPID), "")
		return
	}
	buses := drivers.NewBusSet()
	defer buses.Close()
	for _, dc := range c.cfg.Devices {
		factory, _ := drivers.Lookup(dc.Driver)
		s, err := factory(drivers.Device{Name: dc.Name, Model: dc.Model, Options: dc.Options}, drivers.Deps{Now: c.o.Now, Buses: buses})
		if err != nil {
			c.add("device "+dc.Name, Fail, err.Error(), "check the device's options and wiring")
			continue
		}
		ctx, cancel := context.WithTimeout(c.ctx, c.o.Timeout)
		rs, err := s.Read(ctx)
		cancel()
		s.Halt()
		if errors.Is(err, drivers.ErrNoData) {
			c.add("device "+dc.Name, Pass, fmt.Sprintf("%s answered, no sample yet: %v", s, err), "")
			continue
		}
		if err != nil {
			c.add("device "+dc.Name, Fail, err.Error(), "check wiring, power, address/unit id and bus settings")
			continue
		}
		c.add("device "+dc.Name, Pass, fmt.Sprintf("%s answered: %d readings", s, len(rs)), "")
	}
}

// disk checks the free space where the buffer lives.
func (c *checker) disk() {
	dir := c.cfg.Gateway.State
	for {
		if _, err := os.Stat(dir); err == nil || dir == "/" || dir == "." {
			break
		}
		dir = filepath.Dir(dir)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		c.add("disk", Fail, err.Error(), "check the state directory "+c.cfg.Gateway.State)
		return
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	detail := fmt.Sprintf("%s free on %s, buffer limit %s", mib(free), dir, mib(c.cfg.Buffer.MaxBytes))
	switch {
	case free < 64<<20:
		c.add("disk", Fail, detail, "free space on the SD card or lower buffer.max_bytes")
	case free < c.cfg.Buffer.MaxBytes:
		c.add("disk", Warn, detail+": a long outage could fill the disk before the buffer's limit", "lower buffer.max_bytes below the free space")
	default:
		c.add("disk", Pass, detail, "")
	}
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// listening checks that the agent listens on no TCP or UDP port.
func (c *checker) listening() {
	pid := c.o.AgentPID
	if pid == 0 {
		c.add("no open port", Pass, "the agent is not running (nothing to check)", "")
		return
	}
	socks, err := ListeningSockets(pid)
	switch {
	case err != nil:
		c.add("no open port", Warn, err.Error(), "run doctor as root or as the service user")
	case len(socks) > 0:
		c.add("no open port", Fail, fmt.Sprintf("the agent (pid %d) listens on %s", pid, joinNames(socks)), "edgegw never opens a port by itself: check for a modified build")
	default:
		c.add("no open port", Pass, fmt.Sprintf("the agent (pid %d) listens on no TCP or UDP port", pid), "")
	}
}

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "; ")
}
