package layers_test

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pkg is one package of `go list -deps`.
type pkg struct {
	path     string
	standard bool // part of the standard library
	imports  []string
}

// deps lists the packages patterns depend on (themselves included), with
// their imports, as the default build sees them.
func deps(t *testing.T, tags string, patterns ...string) map[string]pkg {
	t.Helper()
	args := append([]string{"list", "-deps", "-tags", tags, "-f", `{{.ImportPath}} {{.Standard}} {{join .Imports " "}}`}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	m := map[string]pkg{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 1 {
			m[f[0]] = pkg{path: f[0], standard: f[1] == "true", imports: f[2:]}
		}
	}
	return m
}

// importers names the packages of m that import path.
func importers(m map[string]pkg, path string) []string {
	var out []string
	for _, p := range m {
		if slices.Contains(p.imports, path) {
			out = append(out, p.path)
		}
	}
	slices.Sort(out)
	return out
}

const module = "github.com/edgegw/edgegw/"

// forbidden reports why path may not be linked by the backend, crypto or
// mqtt packages, or "".
func forbidden(path string) string {
	switch {
	case strings.HasPrefix(path, "periph.io/"):
		return "hardware code (periph)"
	case strings.HasPrefix(path, "go.etcd.io/bbolt"):
		return "the gateway's buffer store (bbolt)"
	case strings.HasPrefix(path, module+"gateway"):
		return "the agent (gateway/...)"
	case strings.HasPrefix(path, module+"buffer"):
		return "the gateway's buffer"
	case strings.HasPrefix(path, module+"drivers") && path != module+"drivers/reading":
		return "driver code (drivers/..., other than drivers/reading)"
	}
	return ""
}

// TestLowerLayersLinkNoAgent: ./backend/..., ./crypto/... and ./mqtt/...
// depend on no periph, bbolt, gateway/ or drivers/ package other than the
// reading model; crypto links no MQTT client (of the mqtt packages, only
// the topic layout, mqtt/topic), and the backend only the paho packages the
// mqtt package itself needs.
func TestLowerLayersLinkNoAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	mqttDeps := deps(t, "", "./mqtt")
	for _, pattern := range []string{"./backend/...", "./crypto/...", "./mqtt/..."} {
		m := deps(t, "", pattern)
		if len(m) < 3 {
			t.Fatalf("%s: go list found %d packages", pattern, len(m))
		}
		for path := range m {
			why := forbidden(path)
			if why == "" && strings.HasPrefix(pattern, "./crypto") && strings.HasPrefix(path, module+"mqtt") && path != module+"mqtt/topic" {
				why = "an MQTT package other than the topic layout (mqtt/topic)"
			}
			if why == "" && strings.HasPrefix(path, "github.com/eclipse/paho.mqtt.golang") {
				switch {
				case strings.HasPrefix(pattern, "./crypto"):
					why = "an MQTT client (paho)"
				case !hasKey(mqttDeps, path):
					why = "paho beyond what package mqtt needs"
				}
			}
			if why != "" {
				t.Errorf("%s links %s: %s, imported by %s", pattern, path, why, strings.Join(importers(m, path), ", "))
			}
		}
	}
}

func hasKey(m map[string]pkg, k string) bool { _, ok := m[k]; return ok }

// TestTopicLayoutIsAStdlibLeaf: mqtt/topic, which every layer may import
// (crypto and backend included), links nothing but the standard library.
func TestTopicLayoutIsAStdlibLeaf(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	m := deps(t, "", "./mqtt/topic")
	if !hasKey(m, module+"mqtt/topic") || len(m) < 3 {
		t.Fatalf("go list ./mqtt/topic found %d packages", len(m))
	}
	for path, p := range m {
		if !p.standard && path != module+"mqtt/topic" {
			t.Errorf("mqtt/topic links %s, imported by %s: only the standard library is allowed", path, strings.Join(importers(m, path), ", "))
		}
	}
}

// TestProductionBuildCarriesNoDemo: the production build (tag nodemo, make
// build-prod) links no demo, no embedded MQTT broker, no sim driver,
// emulated buses, chips or meters, no pseudo-terminals, no board GPIO
// drivers, and no ingest service, `open`, fleet page or Prometheus client,
// and still every driver of real hardware; the full build has the demo and
// the fleet page.
func TestProductionBuildCarriesNoDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	prod := deps(t, "nodemo", "./cmd/edgegw")
	for path := range prod {
		switch {
		case path == module+"gateway/demo", strings.HasPrefix(path, module+"drivers/sim"), strings.HasPrefix(path, "github.com/mochi-mqtt/"),
			strings.HasPrefix(path, "github.com/creack/pty"), path == "periph.io/x/host/v3", path == "periph.io/x/host/v3/rpi",
			path == module+"backend/ingest", path == module+"backend/fleetweb", strings.HasPrefix(path, "github.com/prometheus/"),
			strings.HasPrefix(path, "github.com/chromedp/"):
			t.Errorf("the production build links %s, imported by %s", path, strings.Join(importers(prod, path), ", "))
		}
	}
	for _, kind := range []string{"ads1115", "bme280", "mcp3008", "modbusmeter", "pms5003", "scd4x", "sps30"} {
		if !hasKey(prod, module+"drivers/"+kind) {
			t.Errorf("the production build lacks the %s driver", kind)
		}
	}
	full := deps(t, "", "./cmd/edgegw")
	for _, path := range []string{module + "gateway/demo", module + "drivers/sim", module + "backend/fleetweb"} {
		if !hasKey(full, path) {
			t.Errorf("the full build lacks %s", path)
		}
	}
	if hasKey(deps(t, "", "./drivers/all"), module+"drivers/sim") {
		t.Error("drivers/all links drivers/sim: every build that takes the drivers gets the emulators")
	}
}

// TestBackendBuild: the backend's build (-tags nodemo,backend, the package
// edgegw-backend) has the ingest, its fleet page and both databases, and
// like the box's build no demo, no emulators and no embedded broker.
func TestBackendBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	backend := deps(t, "nodemo,backend", "./cmd/edgegw")
	for _, path := range []string{module + "backend/ingest", module + "backend/fleetweb", module + "backend/store", "github.com/jackc/pgx/v5", "modernc.org/sqlite"} {
		if !hasKey(backend, path) {
			t.Errorf("the backend's build lacks %s", path)
		}
	}
	for path := range backend {
		if path == module+"gateway/demo" || strings.HasPrefix(path, module+"drivers/sim") || strings.HasPrefix(path, "github.com/mochi-mqtt/") || strings.HasPrefix(path, "github.com/creack/pty") {
			t.Errorf("the backend's build links %s, imported by %s", path, strings.Join(importers(backend, path), ", "))
		}
	}
}

// TestCustomBuildLinksItsDrivers: a production build that names its drivers
// (-tags nodemo,custom,drivers.bme280) links that driver and none of the
// others, and without the meter driver neither the Modbus client nor the
// `modbus` commands.
func TestCustomBuildLinksItsDrivers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	custom := deps(t, "nodemo,custom,drivers.bme280", "./cmd/edgegw")
	if !hasKey(custom, module+"drivers/bme280") {
		t.Error("the custom build lacks the bme280 driver it names")
	}
	for path := range custom {
		kind, isDriver := strings.CutPrefix(path, module+"drivers/")
		switch {
		case isDriver && kind != "bme280" && !slices.Contains([]string{"all", "option", "reading"}, kind):
			t.Errorf("the custom build links %s, imported by %s", path, strings.Join(importers(custom, path), ", "))
		case strings.HasPrefix(path, "github.com/goburrow/"):
			t.Errorf("the custom build without modbusmeter links %s, imported by %s", path, strings.Join(importers(custom, path), ", "))
		}
	}
}

// TestProductionBuildLinksNoHTTPServer: the production binary answers its
// control socket without http.Server and calls it without http.Transport;
// either would add some 500 KB (HTTP/2 included) to every box's binary.
func TestProductionBuildLinksNoHTTPServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the production binary")
	}
	bin := filepath.Join(t.TempDir(), "edgegw")
	build := exec.Command("go", "build", "-tags", "nodemo", "-o", bin, "./cmd/edgegw")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	found := 0
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		sym := f[len(f)-1]
		switch {
		case strings.HasPrefix(sym, "net/http.(*Server)."), strings.HasPrefix(sym, "net/http.(*Transport)."), strings.HasPrefix(sym, "net/http.(*http2Server)."):
			t.Errorf("the production binary links %s", sym)
		case sym == "net/http.ReadRequest":
			found++ // the control socket's request parser
		}
	}
	if found != 1 {
		t.Errorf("net/http.ReadRequest found %d times in the symbol table, want 1: is the check reading the right binary?", found)
	}
}
