package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/pki"
	"github.com/edgegw/edgegw/internal/must"
)

// TestRunRefusesCertificateOfAnotherGateway: `edgegw run` does not start
// when the client certificate's CN is not gateway.id, since the broker's ACL
// would drop everything it publishes; the error names both.
func TestRunRefusesCertificateOfAnotherGateway(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("city ca", time.Hour)
	must.NoError(t, err)
	must.NoError(t, pki.WriteFiles(dir, "ca", ca.CertPEM(), nil))
	crt, key, err := ca.Issue("jb-0418", false, nil, time.Hour)
	must.NoError(t, err)
	must.NoError(t, pki.WriteFiles(dir, "client", crt, key))
	must.NoError(t, keys.InitIdentity(filepath.Join(dir, "keys"), "jb-0417", false))
	must.NoError(t, keys.GenerateRecipient(filepath.Join(dir, "r"), keys.SuiteX25519, false))
	cfg := filepath.Join(dir, "edgegw.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `gateway: {id: jb-0417, keys: %[1]s/keys, state: %[1]s/state}
uplink: {broker: "ssl://127.0.0.1:1", ca: %[1]s/ca.pem, cert: %[1]s/client.pem, key: %[1]s/client.key}
recipients: {telemetry: %[1]s/r/recipient.pub}
control: {socket: "off"}
devices:
  - {name: aq-1, driver: sim, model: airquality, interval: 1s, class: telemetry}
`, dir), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := execute(t, "run", "--config", cfg)
	if code != 1 || !strings.Contains(out, `issued to "jb-0418" but the gateway id is "jb-0417"`) || !strings.Contains(out, "client.pem") {
		t.Errorf("run with another gateway's certificate: exit %d, output %q; want exit 1 naming both ids", code, out)
	}
}
