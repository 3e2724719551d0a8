package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend/backendtest"
	"github.com/edgegw/edgegw/crypto/receipt"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// TestIntegrationBackendDeb: the package edgegw-backend carries the
// backend's build (no demo, no emulators) with the ingest's unit and
// configuration, replaces the box's
// package, and its service runs as installed: as the edgegw-ingest user
// with everything but its state directory read-only, against a real
// Mosquitto, storing in SQLite, answering with receipts the gateway
// verifies, and stopping cleanly on SIGTERM.
func TestIntegrationBackendDeb(t *testing.T) {
	needPackagingTools(t)
	bin := edgegwBinary(t, backendBuild)
	o := Opts{Package: "edgegw-backend", Arch: "amd64", Binary: bin, Generator: edgegwBinary(t, backendGendoc), Version: "v1.2.3-rc1", Out: t.TempDir(), Repo: repoRoot(t),
		Maintainer: "Test <test@example.net>", MTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for name, change := range map[string]func(*Opts){
		"armhf":                     func(o *Opts) { o.Arch = "armhf" },
		"the production build":      func(o *Opts) { o.Binary = edgegwBinary(t, prodBuild) },
		"the full build":            func(o *Opts) { o.Binary, o.Generator = edgegwBinary(t, fullBuild), "" },
		"the backend's generator":   func(o *Opts) { o.Binary = edgegwBinary(t, backendGendoc) },
		"a production generator":    func(o *Opts) { o.Generator = edgegwBinary(t, prodGendoc) },
		"a generator of other tags": func(o *Opts) { o.Generator = edgegwVersion(t, "nobackend,gendocs", "v1.2.3-rc1") },
	} {
		bad := o
		change(&bad)
		if p, err := Build(bad); err == nil {
			t.Errorf("Build(edgegw-backend, %s) = %s, want an error", name, p)
		}
	}
	// The backend's build with gendocs generates its man pages.
	deb, err := Build(o)
	must.NoError(t, err)
	if got, want := filepath.Base(deb), "edgegw-backend_1.2.3~rc1_amd64.deb"; got != want {
		t.Errorf("package file %s, want %s", got, want)
	}

	checkDeb(t, deb, debWant{
		name: "edgegw-backend", other: "edgegw", unit: "edgegw-ingest.service", conffile: "/etc/edgegw-ingest/ingest.yaml",
		examples: "configs/backend/*.yaml", description: "edgegw backend", suggests: "bash-completion, postgresql",
		man: []string{"edgegw", "edgegw-ingest", "edgegw-ingest-run", "edgegw-ingest-migrate", "edgegw-fleet-status", "edgegw-open", "edgegw-keys-init"},
		// The box's unit and configuration are not in it (checkDeb lists
		// every file); nor are the packaging tool and the demo.
		noMan: []string{"edgegw-gendocs", "edgegw-demo"},
	})
	checkUnknown(t, bin, "demo", "gendocs")

	t.Run("scripts and unit", func(t *testing.T) {
		dir := extract(t, deb)
		checkSameFiles(t, dir, map[string]string{
			"etc/edgegw-ingest/ingest.yaml":                     "configs/backend/ingest.yaml",
			"lib/systemd/system/edgegw-ingest.service":          "scripts/edgegw-ingest.service",
			"usr/share/doc/edgegw-backend/operations.md":        "docs/operations.md",
			"usr/share/doc/edgegw-backend/examples/ingest.yaml": "configs/backend/ingest.yaml",
			"usr/bin/edgegw": bin,
		})
		checkUnit(t, filepath.Join(dir, "lib/systemd/system/edgegw-ingest.service"), filepath.Join(dir, "usr/bin/edgegw"),
			"/usr/bin/edgegw ingest run --config /etc/edgegw-ingest/ingest.yaml")
	})

	t.Run("replaces the box package", func(t *testing.T) {
		root := newRoot(t)
		dpkg := dpkgIn(t, root)
		dpkg("-i", boxDeb(t))
		out := dpkg("-i", deb)
		if !strings.Contains(out, "sudo -u edgegw-ingest edgegw keys init") {
			t.Errorf("first install prints no next steps:\n%s", out)
		}
		if st, _ := exec.Command("dpkg", "--root="+root, "-s", "edgegw").CombinedOutput(); strings.Contains(string(st), "Status: install ok installed") {
			t.Errorf("the box package is still installed beside edgegw-backend:\n%s", st)
		}
		if a, b := read(t, filepath.Join(root, "usr/bin/edgegw")), read(t, bin); a != b {
			t.Error("/usr/bin/edgegw is not the backend's build")
		}
		if _, err := os.Stat(filepath.Join(root, "lib/systemd/system/edgegw.service")); !os.IsNotExist(err) {
			t.Errorf("the box's unit stayed: %v", err)
		}
	})

	t.Run("dpkg install run remove purge", func(t *testing.T) {
		root := newRoot(t)
		dpkg := dpkgIn(t, root)
		dpkg("-i", deb)
		checkIngestAccount(t, root)
		// Again: nothing duplicated, nothing printed for commissioning.
		if out := dpkg("-i", deb); strings.Contains(out, "keys init") {
			t.Errorf("upgrade prints the first-install steps:\n%s", out)
		}
		checkIngestAccount(t, root)

		runIngest(t, root)

		dpkg("-r", "edgegw-backend")
		if _, err := os.Stat(filepath.Join(root, "var/lib/edgegw-ingest/ingest.db")); err != nil {
			t.Errorf("remove deleted the database: %v", err)
		}
		if _, err := os.Stat(filepath.Join(root, "lib/systemd/system/edgegw-ingest.service")); !os.IsNotExist(err) {
			t.Errorf("remove left the unit: %v", err)
		}
		dpkg("-P", "edgegw-backend")
		if _, err := os.Stat(filepath.Join(root, "var/lib/edgegw-ingest")); !os.IsNotExist(err) {
			t.Errorf("purge left /var/lib/edgegw-ingest: %v", err)
		}
		// The certificates and keys put there by hand stay.
		if _, err := os.Stat(filepath.Join(root, "etc/edgegw-ingest/ingest.key")); err != nil {
			t.Errorf("purge deleted the operator's files in /etc/edgegw-ingest: %v", err)
		}
		if !strings.Contains(read(t, filepath.Join(root, "etc/passwd")), "\nedgegw-ingest:") {
			t.Error("purge removed the edgegw-ingest account; it is kept on purpose")
		}
	})
}

// boxDeb builds the package edgegw into a temp dir.
func boxDeb(t *testing.T) string {
	t.Helper()
	deb, err := Build(Opts{Package: "edgegw", Arch: "amd64", Binary: edgegwBinary(t, prodBuild), Generator: edgegwBinary(t, prodGendoc),
		Version: "v1.2.3-rc1", Out: t.TempDir(), Repo: repoRoot(t), Maintainer: "Test <test@example.net>"})
	must.NoError(t, err)
	return deb
}

// checkIngestAccount checks the account and directories postinst makes
// for the ingest.
func checkIngestAccount(t *testing.T, root string) {
	t.Helper()
	passwd := read(t, filepath.Join(root, "etc/passwd"))
	if n := strings.Count(passwd, "\nedgegw-ingest:"); n != 1 {
		t.Fatalf("%d edgegw-ingest accounts in passwd:\n%s", n, passwd)
	}
	uid, gid := accountID(t, root, "passwd", "edgegw-ingest"), accountID(t, root, "group", "edgegw-ingest")
	for _, l := range strings.Split(passwd, "\n") {
		if f := strings.Split(l, ":"); f[0] == "edgegw-ingest" && (f[3] != gid || f[5] != "/var/lib/edgegw-ingest" || f[6] != "/usr/sbin/nologin" || uid == "0") {
			t.Errorf("edgegw-ingest account: %s", l)
		}
	}
	if strings.Contains(passwd, "\nedgegw:") {
		t.Error("the backend package made the box's edgegw account")
	}
	for d, mode := range map[string]string{"var/lib/edgegw-ingest": "750", "var/lib/edgegw-ingest/identity": "700"} {
		out := sh(t, "stat", "-c", "%a %u %g %F", filepath.Join(root, d))
		if want := mode + " " + uid + " " + gid + " directory\n"; out != want {
			t.Errorf("%s: %q, want %q", d, out, want)
		}
	}
}

// runIngest commissions the installed ingest as docs/operations.md says
// and runs its service as the unit does, against a real Mosquitto: a
// gateway's batch is stored in SQLite in the state directory and answered
// with a receipt signed by the ingest's identity, which `edgegw ingest
// status` and `edgegw fleet status` then show; SIGTERM stops it cleanly.
func runIngest(t *testing.T, root string) {
	t.Helper()
	br := mqtttest.Start(t, mqtttest.Options{})
	gw := backendtest.NewGateway(t, "jb-0417")
	etc := filepath.Join(root, "etc/edgegw-ingest")
	uid := accountID(t, root, "passwd", "edgegw-ingest") + ":" + accountID(t, root, "group", "edgegw-ingest")

	// The operator's files: the broker's CA, the ingest's client
	// certificate and key, the gateways' identities and the recipient keys
	// (the private ones 0600, owned by the service user).
	cert, key := br.Client(t, br.Ingest)
	for dst, src := range map[string]string{"ca.pem": br.CAFile, "ingest.pem": cert, "ingest.key": key,
		"gateways.pub": filepath.Join(gw.Dir, "identity.pub"), "ops.recipient.key": filepath.Join(gw.Dir, "recipient.key")} {
		write(t, filepath.Join(etc, dst), read(t, src))
	}
	sb := newSandbox(t, root, "lib/systemd/system/edgegw-ingest.service")
	// As root, like the docs: the second data class's key pair.
	run(t, exec.Command("chroot", root, "/usr/bin/edgegw", "keys", "recipient", "--dir", "/etc/edgegw-ingest", "--name", "privacy.recipient"))
	for _, k := range []string{"ingest.key", "ops.recipient.key", "privacy.recipient.key"} {
		sh(t, "chown", uid, filepath.Join(etc, k))
		must.NoError(t, os.Chmod(filepath.Join(etc, k), 0o600))
	}
	// The conffile as shipped, but for the broker's address.
	conf := filepath.Join(etc, "ingest.yaml")
	shipped := read(t, conf)
	edited := strings.Replace(shipped, "ssl://broker.city.example:8883", br.URL, 1)
	if edited == shipped {
		t.Fatalf("the installed ingest.yaml names no broker ssl://broker.city.example:8883:\n%s", shipped)
	}
	write(t, conf, edited)

	// The sandbox holds: /etc is read-only to the service user.
	if out, err := sb.command("/usr/bin/edgegw", "keys", "init", "--dir", "/etc/edgegw-ingest/identity", "--id", "ingest-1").CombinedOutput(); err == nil || !strings.Contains(string(out), "read-only file system") {
		t.Fatalf("keys init into /etc/edgegw-ingest in the sandbox: %v, %s; want a read-only file system", err, out)
	}
	// Commissioning, as the service user: its identity and the schema,
	// with the default configuration file.
	sb.run(t, "/usr/bin/edgegw", "keys", "init", "--dir", "/var/lib/edgegw-ingest/identity", "--id", "ingest-1")
	if out := sb.run(t, "/usr/bin/edgegw", "ingest", "migrate"); !strings.Contains(out, "schema migrated") {
		t.Errorf("ingest migrate: %s", out)
	}
	pinned, err := receipt.LoadKeys(filepath.Join(root, "var/lib/edgegw-ingest/identity/identity.pub"))
	must.NoError(t, err)

	svc := sb.start(t)
	svc.waitLog(t, "ingest started")

	// The gateway publishes a batch and waits for its receipt.
	receipts := make(chan []byte, 16)
	subscribed := make(chan struct{}, 1)
	gwCert, gwKey := br.Client(t, "jb-0417")
	client, err := mqtt.Dial(context.Background(), mqtt.SubscribeConfig{
		Broker: br.URL, CA: br.CAFile, Cert: gwCert, Key: gwKey, ClientID: "jb-0417", CleanSession: true,
		Topics:      []string{br.Prefix + "/jb-0417/receipt"},
		OnSubscribe: func() { subscribed <- struct{}{} },
	}, func(_ string, payload []byte) { receipts <- payload })
	must.NoError(t, err)
	defer client.Close()
	select {
	case <-subscribed:
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway's subscription to its receipts not acknowledged within 30s")
	}
	must.NoError(t, client.Publish(context.Background(), br.Prefix+"/jb-0417/data/telemetry", gw.Batch(1, 3), false))
	select {
	case data := <-receipts:
		r, err := receipt.Verify(data, "jb-0417", pinned)
		if err != nil || !r.Covers(1) {
			t.Errorf("receipt: %+v, %v; want one signed by the installed ingest identity covering seq 1", r, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no receipt within 30s")
	}

	// What operators run, as the service user, with the default
	// configuration file, while the service runs.
	var st map[string]any
	if out := sb.run(t, "/usr/bin/edgegw", "ingest", "status", "--json"); json.Unmarshal([]byte(out), &st) != nil || st["readings"] != 3.0 || st["batches"] != 1.0 {
		t.Errorf("ingest status --json: %s", out)
	}
	if out := sb.run(t, "/usr/bin/edgegw", "fleet", "status"); !strings.Contains(out, "jb-0417") {
		t.Errorf("fleet status names no jb-0417:\n%s", out)
	}
	if got := sh(t, "stat", "-c", "%a %u:%g", filepath.Join(root, "var/lib/edgegw-ingest/ingest.db")); got != "600 "+uid+"\n" {
		t.Errorf("ingest.db: %q, want 600, owned by edgegw-ingest (%s)", got, uid)
	}

	if err := svc.stop(t); err != nil {
		t.Errorf("after SIGTERM: %v, want exit 0", err)
	}
	if log := svc.log.String(); !strings.Contains(log, "ingest stopped") || !strings.Contains(log, "readings=3") {
		t.Errorf("no clean stop logged:\n%s", log)
	}
}
