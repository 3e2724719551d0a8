package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunRefusesCertificateOfAnotherGateway: `edgegw run` does not start
// when the client certificate's CN is not gateway.id, since the broker's ACL
// would drop everything it publishes; the error names both.
func TestRunRefusesCertificateOfAnotherGateway(t *testing.T) {
	dir := commissionDir(t, "jb-0418", "jb-0417")
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
