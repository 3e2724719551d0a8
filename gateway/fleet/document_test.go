package fleet_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/confsig"
	"github.com/edgegw/edgegw/gateway/config"
	"github.com/edgegw/edgegw/gateway/fleet"
	"github.com/edgegw/edgegw/internal/must"
)

// docYAML is a configuration for gateway id at version, as an operator
// writes one: comments, a hex number, a size with its unit.
func docYAML(id string, version uint64) []byte {
	return fmt.Appendf(nil, `# panel 7, north side
version: %d
gateway: {id: %s}
uplink: {broker: "mqtts://broker.example:8883", ca: ca.pem, cert: c.pem, key: c.key}
recipients: {telemetry: t.pub}
buffer: {max_bytes: 256MiB}   # a day of outage
devices:
  - {name: aq-1, driver: sim, interval: 5s, class: telemetry, options: {seed: 0x76}}
`, version, id)
}

func opsKey(t *testing.T) *confsig.OpsKey {
	t.Helper()
	dir := t.TempDir()
	must.NoError(t, confsig.InitOps(dir, false))
	k, err := confsig.LoadOpsKey(dir + "/ops.key")
	must.NoError(t, err)
	return k
}

// TestSignAndVerifyConfigKeepTheForm: what the operator wrote is what is
// signed, verified and handed to the gateway, byte for byte.
func TestSignAndVerifyConfigKeepTheForm(t *testing.T) {
	key := opsKey(t)
	yaml := docYAML("gw-001", 3)
	doc, target, err := fleet.SignConfig(key, 3, confsig.Target{}, time.Time{}, time.Time{}, "panel.yaml", yaml)
	must.NoError(t, err)
	if target.String() != "gateway gw-001" {
		t.Errorf("default target = %s", target)
	}
	v, err := fleet.VerifyConfig(confsig.Policy{GatewayID: "gw-001", Running: 2, Now: time.Now()}, doc, confsig.NewOpsTrust(key.Public()))
	must.NoError(t, err)
	if !bytes.Equal(v.Config, yaml) || v.Digest != sha256.Sum256(yaml) {
		t.Errorf("verified config = %q, want the file as written", v.Config)
	}
	if v.Parsed.Buffer.MaxBytes != 256<<20 || v.Parsed.Gateway.ID != "gw-001" || v.Parsed.Version != 3 {
		t.Errorf("parsed = %+v", v.Parsed)
	}
}

func TestSignConfigRefuses(t *testing.T) {
	key := opsKey(t)
	tests := []struct {
		name    string
		version uint64
		target  confsig.Target
		yaml    []byte
		want    string
	}{
		{"version differs", 4, confsig.Target{}, docYAML("gw-001", 3), "x.yaml: the configuration says version 3 but --version is 4"},
		{"target excludes the gateway", 3, confsig.ForGateways("gw-002", "gw-003"), docYAML("gw-001", 3), `the configuration is for gateway "gw-001", which the target (list of 2 gateways (gw-002, gw-003)) does not include`},
		{"invalid", 3, confsig.Target{}, []byte("version: 3\ngateway: {id: gw-001, colour: red}\n"), "x.yaml:2: gateway.colour: unknown field"},
		{"driver option", 3, confsig.Target{}, bytes.Replace(docYAML("gw-001", 3), []byte("seed:"), []byte("sead:"), 1), "x.yaml:8: devices[0].options.sead: unknown option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _, err := fleet.SignConfig(key, tt.version, tt.target, time.Time{}, time.Time{}, "x.yaml", tt.yaml)
			if doc != nil || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SignConfig = %d bytes, %v; want %q", len(doc), err, tt.want)
			}
		})
	}
}

// TestVerifyConfigRejects: documents a gateway refuses for what the
// configuration inside says, signed by a trusted key that did not check it.
func TestVerifyConfigRejects(t *testing.T) {
	key := opsKey(t)
	trust := confsig.NewOpsTrust(key.Public())
	sign := func(version uint64, target confsig.Target, yaml []byte) []byte {
		doc, err := confsig.Sign(key, version, target, time.Time{}, time.Time{}, yaml)
		must.NoError(t, err)
		return doc
	}
	tests := []struct {
		name   string
		doc    []byte
		group  string
		reason string
		want   string
	}{
		{"list includes the gateway, config is another's", sign(3, confsig.ForGateways("gw-001", "gw-002"), docYAML("gw-002", 3)), "", confsig.ReasonNotForThisGateway, `gateway.id is "gw-002", not "gw-001"`},
		{"group member, config is another's", sign(3, confsig.ForGroup("north"), docYAML("gw-009", 3)), "north", confsig.ReasonNotForThisGateway, "gateway.id"},
		{"version field differs", sign(4, confsig.ForGateway("gw-001"), docYAML("gw-001", 3)), "", confsig.ReasonInvalidConfig, "version field is 3, not the signed 4"},
		{"not yaml", sign(3, confsig.ForGateway("gw-001"), []byte("version: 3\ngateway: [\n")), "", confsig.ReasonInvalidConfig, "signed config v3"},
		{"unknown driver", sign(3, confsig.ForGateway("gw-001"), bytes.Replace(docYAML("gw-001", 3), []byte("driver: sim"), []byte("driver: toaster"), 1)), "", confsig.ReasonInvalidConfig, `devices[0].driver: "toaster" is not a known driver`},
		{"driver option", sign(3, confsig.ForGateway("gw-001"), bytes.Replace(docYAML("gw-001", 3), []byte("seed:"), []byte("sead:"), 1)), "", confsig.ReasonInvalidConfig, "signed config v3:8: devices[0].options.sead: unknown option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := fleet.VerifyConfig(confsig.Policy{GatewayID: "gw-001", Group: tt.group, Now: time.Now()}, tt.doc, trust)
			var re *confsig.RejectError
			if v != nil || !errors.As(err, &re) || re.Reason != tt.reason || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("VerifyConfig = %v, %v; want %s %q", v, err, tt.reason, tt.want)
			}
		})
	}
	var fe *config.FieldError
	_, err := fleet.VerifyConfig(confsig.Policy{GatewayID: "gw-001", Now: time.Now()}, tests[4].doc, trust)
	if !errors.As(err, &fe) || fe.Path != "devices[0].driver" {
		t.Errorf("err = %v, want a *config.FieldError inside", err)
	}
}

func TestRecipients(t *testing.T) {
	key := opsKey(t)
	inspect := func(target confsig.Target, id string) *confsig.Header {
		doc, err := confsig.Sign(key, 1, target, time.Time{}, time.Time{}, docYAML(id, 1))
		must.NoError(t, err)
		h, err := confsig.Inspect(doc)
		must.NoError(t, err)
		return h
	}
	tests := []struct {
		name     string
		h        *confsig.Header
		gateways []string
		want     string // joined ids, or the error
	}{
		{"own gateway", inspect(confsig.ForGateway("gw-001"), "gw-001"), nil, "gw-001"},
		{"group needs names", inspect(confsig.ForGroup("north"), "gw-001"), nil, "the broker cannot expand fleet groups"},
		{"group named", inspect(confsig.ForGroup("north"), "gw-001"), []string{"gw-001", "gw-001"}, "gw-001"},
		{"list, config is one gateway's", inspect(confsig.ForGateways("gw-001", "gw-002"), "gw-001"), nil, "gw-002 would reject it"},
		{"named gateway not in target", inspect(confsig.ForGateway("gw-001"), "gw-001"), []string{"gw-003"}, "--gateway gw-003: not in the document's target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, err := fleet.Recipients(tt.h, tt.gateways)
			got := strings.Join(ids, ",")
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tt.want) {
				t.Fatalf("Recipients = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSizeLimitsAgree: a configuration gateway/config accepts fits in a
// document.
func TestSizeLimitsAgree(t *testing.T) {
	if confsig.MaxConfigSize < config.MaxFileSize {
		t.Fatalf("confsig.MaxConfigSize %d < config.MaxFileSize %d", confsig.MaxConfigSize, config.MaxFileSize)
	}
}
