package demo

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/pki"
)

// files are the throwaway credentials of one demo run.
type files struct {
	dir                string
	ca                 string // CA certificate
	gwCert, gwKey      string // gateway client certificate (CN gw-001)
	beCert, beKey      string // backend client certificate (CN ingest)
	ingestID           string // the ingest's identity directory (signs receipts)
	ingestPub          string // its public identity, pinned by the gateway
	keys               string // gateway key directory (identity.key, identity.pub)
	opsKey, privacyKey string // recipient private keys, held by the backend only
	opsPub, privacyPub string // recipient public keys, given to the gateway
}

// certValidity is the demo certificates' lifetime: long enough that
// `edgegw doctor` on a kept demo does not warn about expiry.
const certValidity = 400 * 24 * time.Hour

// gatewayID is the demo gateway's identity.
const gatewayID = "gw-001"

// setup writes keys and certificates into dir and returns the broker's TLS
// material.
func setup(dir string) (*files, [3][]byte, error) {
	var tlsPEM [3][]byte
	f := &files{dir: dir, keys: filepath.Join(dir, "gateway", "keys")}
	ca, err := pki.NewCA("edgegw demo CA", certValidity)
	if err != nil {
		return nil, tlsPEM, err
	}
	f.ca = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(f.ca, ca.CertPEM(), 0o644); err != nil {
		return nil, tlsPEM, fmt.Errorf("demo: %w", err)
	}
	srvCert, srvKey, err := ca.Issue("127.0.0.1", true, []string{"127.0.0.1", "localhost"}, certValidity)
	if err != nil {
		return nil, tlsPEM, err
	}
	tlsPEM = [3][]byte{srvCert, srvKey, ca.CertPEM()}
	for _, c := range []struct {
		cn         string
		cert, key  *string
		subdirName string
	}{{gatewayID, &f.gwCert, &f.gwKey, "gateway"}, {"ingest", &f.beCert, &f.beKey, "backend"}} {
		cert, key, err := ca.Issue(c.cn, false, nil, certValidity)
		if err != nil {
			return nil, tlsPEM, err
		}
		sub := filepath.Join(dir, c.subdirName)
		if err := pki.WriteFiles(sub, "client", cert, key); err != nil {
			return nil, tlsPEM, err
		}
		*c.cert, *c.key = filepath.Join(sub, "client.pem"), filepath.Join(sub, "client.key")
	}
	if err := keys.InitIdentity(f.keys, gatewayID, false); err != nil {
		return nil, tlsPEM, err
	}
	f.ingestID = filepath.Join(dir, "backend", "ingest-identity")
	if err := keys.InitIdentity(f.ingestID, "ingest-1", false); err != nil {
		return nil, tlsPEM, err
	}
	if err := copyPublic(filepath.Join(f.ingestID, keys.IdentityPubFile), filepath.Join(dir, "gateway", "ingest.pub"), &f.ingestPub); err != nil {
		return nil, tlsPEM, err
	}
	for _, r := range []struct {
		name     string
		suite    keys.Suite
		key, pub *string
	}{{"ops", keys.SuiteX25519, &f.opsKey, &f.opsPub}, {"privacy", keys.SuiteMLKEM768X25519, &f.privacyKey, &f.privacyPub}} {
		rdir := filepath.Join(dir, "backend", r.name)
		if err := keys.GenerateRecipient(rdir, r.suite, false); err != nil {
			return nil, tlsPEM, err
		}
		*r.key = filepath.Join(rdir, "recipient.key")
		if err := copyPublic(filepath.Join(rdir, "recipient.pub"), filepath.Join(dir, "gateway", r.name+".recipient.pub"), r.pub); err != nil {
			return nil, tlsPEM, err
		}
	}
	return f, tlsPEM, nil
}

// copyPublic gives the gateway a copy of a public key file, at dst.
func copyPublic(src, dst string, path *string) error {
	pub, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := os.WriteFile(dst, pub, 0o644); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	*path = dst
	return nil
}

// freeAddr returns a free TCP address on loopback.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("demo: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// configYAML is the demo gateway's configuration: the real drivers of a
// junction box on emulated buses (sensors on I²C, SPI and a UART, two
// Modbus meters sharing one RS-485 line), telemetry sealed to the operations
// key (X25519), household meter data sealed to the privacy office's key
// (ML-KEM-768 + X25519). A batch leaves the buffer when the ingest's signed
// receipt says the database has it.
const configYAML = `version: 1
gateway:
  id: %[1]s
  keys: %[2]s
  state: %[3]s
uplink:
  broker: ssl://%[4]s
  ca: %[5]s
  cert: %[6]s
  key: %[7]s
  topic_prefix: city
  backoff_min: 500ms
  backoff_max: 2s
  health_interval: 5s
  receipts: [%[10]s]
  receipt_timeout: 2s
recipients:
  telemetry: %[8]s
  personal: %[9]s
batch: {max_readings: 100, max_delay: 2s, durability: 1s}
buffer: {max_bytes: 64MiB, max_age: 24h}
log: {level: warn}
control: {socket: %[3]s/control.sock}
devices:
  - {name: aq-1, driver: bme280, interval: 1s, class: telemetry, options: {bus: "sim:i2c-1", addr: 0x76}}
  - {name: co2-1, driver: scd4x, interval: 5s, class: telemetry, options: {bus: "sim:i2c-1", warmup: 10s}}
  - {name: pm-1, driver: sps30, interval: 1s, class: telemetry, options: {bus: "sim:i2c-1", warmup: 10s}}
  - {name: pm-2, driver: pms5003, interval: 2s, class: telemetry, options: {bus: "sim:uart-1", warmup: 10s}}
  - name: gas-1
    driver: ads1115
    interval: 2s
    class: telemetry
    options:
      bus: "sim:i2c-1"
      channels: [{name: no2, input: a0-a1, fsr: 2.048, zero: 0.0, span: 0.3, span_ppb: 1000, min: 0, max: 2000}]
  - {name: o3-1, driver: mcp3008, interval: 2s, class: telemetry, options: {bus: "sim:spi0.0", channels: [{name: o3, input: 2, zero: 0.4, span: 0.9, span_ppb: 500, min: 0, max: 1000}]}}
  - {name: meter-1, driver: modbusmeter, interval: 2s, class: personal, options: {port: "sim:rs485-1", unit: 1, profile: sdm630}}
  - {name: meter-2, driver: modbusmeter, interval: 2s, class: personal, options: {port: "sim:rs485-1", unit: 2, profile: sdm120}}
`
