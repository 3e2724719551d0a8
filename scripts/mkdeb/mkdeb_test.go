package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
)

func TestDebVersion(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.0":                    "1.2.0",
		"v1.2.0":                   "1.2.0",
		"v1.2.0-rc1":               "1.2.0~rc1",
		"v1.2.0-beta.2":            "1.2.0~beta.2",
		"v1.2.0-3-gabcdef0":        "1.2.0+3.gabcdef0",
		"v1.2.0-3-gabcdef0-dirty":  "1.2.0+3.gabcdef0.dirty",
		"abcdef0":                  "0~gabcdef0",
		"abcdef0-dirty":            "0~gabcdef0.dirty",
		"dev":                      "0~gdev",
		"2":                        "2",
		"v10.0.1-rc.1-2-g1234567f": "10.0.1~rc.1.2.g1234567f",
	} {
		got, err := DebVersion(in)
		if err != nil || got != want {
			t.Errorf("DebVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1.2_3", "v1 2", "ä"} {
		if got, err := DebVersion(bad); err == nil {
			t.Errorf("DebVersion(%q) = %q, want an error", bad, got)
		}
	}
}

// binDir holds the edgegw binary the integration tests build once.
var binDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "mkdeb-test-")
	if err != nil {
		panic(err)
	}
	binDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// needPackagingTools skips the test where it cannot run (-short, not root,
// no dpkg), unless EDGEGW_PACKAGING_TEST=1 (set in CI) makes that a failure.
func needPackagingTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("packaging test: skipped with -short")
	}
	miss := ""
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		miss = "runs on linux/amd64 only"
	} else if os.Geteuid() != 0 {
		miss = "needs root (chown, useradd --prefix)"
	} else {
		// unshare, mount and chroot run the installed services in a
		// sandbox, against a real Mosquitto.
		for _, tool := range []string{"dpkg", "dpkg-deb", "useradd", "groupadd", "usermod", "sh", "bash", "unshare", "mount", "chroot"} {
			if _, err := exec.LookPath(tool); err != nil {
				miss = "needs " + tool
				break
			}
		}
		if _, err := os.Stat("/usr/sbin/mosquitto"); err != nil && miss == "" {
			if _, err := exec.LookPath("mosquitto"); err != nil {
				miss = "needs mosquitto"
			}
		}
	}
	if miss == "" {
		return
	}
	if os.Getenv("EDGEGW_PACKAGING_TEST") == "1" {
		t.Fatalf("packaging test %s, and EDGEGW_PACKAGING_TEST=1", miss)
	}
	t.Skipf("packaging test %s (EDGEGW_PACKAGING_TEST=1 makes this a failure)", miss)
}

// repoRoot is the repository root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	must.NoError(t, err)
	return r
}

// The edgegw builds the tests package, each built once: the full build
// (make build: the install script's man pages), the production build (the
// package edgegw) and the backend's build (the package edgegw-backend), and
// each of these two with gendocs (the generators of their man pages).
const (
	fullBuild     = ""
	prodBuild     = "nodemo"
	prodGendoc    = "nodemo,gendocs"
	backendBuild  = "nodemo,backend"
	backendGendoc = "nodemo,backend,gendocs"
)

// edgegwBinary builds a static linux/amd64 edgegw version v1.2.3-rc1 with
// the build tags tags, once.
func edgegwBinary(t *testing.T, tags string) string {
	t.Helper()
	return edgegwVersion(t, tags, "v1.2.3-rc1")
}

// edgegwVersion builds a static linux/amd64 edgegw of a version with the
// build tags tags, once.
func edgegwVersion(t *testing.T, tags, version string) string {
	t.Helper()
	name := "full"
	if tags != fullBuild {
		name = strings.ReplaceAll(tags, ",", "-")
	}
	bin := filepath.Join(binDir, "edgegw-linux-amd64-"+version+"-"+name)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "build", "-tags", tags, "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", bin, "./cmd/edgegw")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	run(t, cmd)
	return bin
}

func run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return string(out)
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	return run(t, exec.Command(name, args...))
}

// newRoot makes a throwaway system root: accounts files with root and
// dialout, an i2c group that already has a member (as on Raspberry Pi OS),
// and an empty dpkg database.
func newRoot(t *testing.T) string {
	t.Helper()
	r := t.TempDir()
	for name, content := range map[string]string{
		"etc/passwd":          "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":           "root:x:0:\ndialout:x:20:\ni2c:x:998:pi\n",
		"etc/shadow":          "root:*:19000:0:99999:7:::\n",
		"etc/gshadow":         "root:*::\ndialout:*::\ni2c:!::pi\n",
		"var/lib/dpkg/status": "",
	} {
		p := filepath.Join(r, name)
		must.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		must.NoError(t, os.MkdirAll(filepath.Join(r, d), 0o755))
	}
	return r
}

// TestIntegrationDeb: the package edgegw carries the production build, with
// man pages and completions of exactly its commands, and installs,
// upgrades, removes and purges as a box needs.
func TestIntegrationDeb(t *testing.T) {
	needPackagingTools(t)
	bin := edgegwBinary(t, prodBuild)
	out := t.TempDir()
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	o := Opts{Package: "edgegw", Arch: "amd64", Binary: bin, Generator: edgegwBinary(t, prodGendoc), Version: "v1.2.3-rc1", Out: out, Repo: repoRoot(t),
		Maintainer: "Test <test@example.net>", MTime: mtime}

	// What is not the box's production build, or documents other
	// commands, is refused.
	for name, change := range map[string]func(*Opts){
		"an amd64 binary as arm64":                 func(o *Opts) { o.Arch = "arm64" },
		"the full build":                           func(o *Opts) { o.Binary = edgegwBinary(t, fullBuild) },
		"the production build with gendocs":        func(o *Opts) { o.Binary = o.Generator },
		"the full build as generator":              func(o *Opts) { o.Generator = edgegwBinary(t, fullBuild) },
		"no generator (the binary has no gendocs)": func(o *Opts) { o.Generator = "" },
		"an unknown package":                       func(o *Opts) { o.Package = "edgegw-box" },
		"the production build for the backend":     func(o *Opts) { o.Package = "edgegw-backend" },
		"a generator of another version":           func(o *Opts) { o.Generator = edgegwVersion(t, prodGendoc, "v9.9.9") },
	} {
		bad := o
		change(&bad)
		if p, err := Build(bad); err == nil {
			t.Errorf("Build(%s) = %s, want an error", name, p)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("refused builds left %v in --out", entries)
	}

	deb, err := Build(o)
	must.NoError(t, err)
	if got, want := filepath.Base(deb), "edgegw_1.2.3~rc1_amd64.deb"; got != want {
		t.Errorf("package file %s, want %s", got, want)
	}

	t.Run("man pages of other commands", func(t *testing.T) {
		// The full build's pages name commands the production build lacks.
		full := edgegwBinary(t, fullBuild)
		dir := t.TempDir()
		sh(t, full, "gendocs", "--root", dir)
		if err := checkCommands([]string{bin}, full, dir); err == nil || !strings.Contains(err.Error(), "edgegw-ingest-run.1.gz") {
			t.Errorf("checkCommands(production build, pages of the full build) = %v, want edgegw-ingest-run.1.gz named", err)
		}
		// A command without its page.
		dir = t.TempDir()
		sh(t, o.Generator, "gendocs", "--root", dir)
		if err := checkCommands([]string{bin}, o.Generator, dir); err != nil {
			t.Fatalf("checkCommands(production build, its own pages) = %v", err)
		}
		must.NoError(t, os.Remove(filepath.Join(dir, "usr/share/man/man1/edgegw-keys-recipient.1.gz")))
		if err := checkCommands([]string{bin}, o.Generator, dir); err == nil || !strings.Contains(err.Error(), "without a man page [edgegw-keys-recipient.1.gz]") {
			t.Errorf("checkCommands(a page missing) = %v, want edgegw-keys-recipient.1.gz named", err)
		}
	})

	checkDeb(t, deb, debWant{
		name: "edgegw", other: "edgegw-backend", unit: "edgegw.service", conffile: "/etc/edgegw/edgegw.yaml",
		examples: "configs/*.yaml", description: "edge gateway agent", suggests: "bash-completion",
		man: []string{"edgegw", "edgegw-run", "edgegw-keys-recipient", "edgegw-doctor"},
		// The production build has no backend, no demo and no gendocs.
		noMan: []string{"edgegw-ingest", "edgegw-fleet", "edgegw-open", "edgegw-demo", "edgegw-gendocs"},
	})

	t.Run("scripts and unit", func(t *testing.T) {
		dir := extract(t, deb)
		// The packaged files are the repository's.
		checkSameFiles(t, dir, map[string]string{
			"etc/edgegw/edgegw.yaml":             "configs/pi-junction.yaml",
			"lib/systemd/system/edgegw.service":  "scripts/edgegw.service",
			"usr/share/doc/edgegw/operations.md": "docs/operations.md",
			"usr/bin/edgegw":                     bin,
		})
		out := sh(t, filepath.Join(dir, "usr/bin/edgegw"), "version")
		if !strings.Contains(out, "v1.2.3-rc1") {
			t.Errorf("packaged edgegw version: %q", out)
		}
		// The production build: none of the backend's commands, no demo,
		// no gendocs.
		checkUnknown(t, filepath.Join(dir, "usr/bin/edgegw"), "ingest", "fleet", "open", "demo", "gendocs")
		checkUnit(t, filepath.Join(dir, "lib/systemd/system/edgegw.service"), filepath.Join(dir, "usr/bin/edgegw"),
			"/usr/bin/edgegw run --config /etc/edgegw/edgegw.yaml")
	})

	t.Run("man pages and completion", func(t *testing.T) {
		dir := extract(t, deb)
		page := renderMan(t, filepath.Join(dir, "usr/share/man/man1/edgegw-keys-recipient.1.gz"))
		for _, want := range []string{"EDGEGW-KEYS-RECIPIENT(1)", "NAME", "edgegw-keys-recipient", "SYNOPSIS", "--name", "SEE ALSO", "edgegw-keys(1)", "edgegw v1.2.3-rc1"} {
			if !strings.Contains(page, want) {
				t.Errorf("man edgegw-keys-recipient lacks %q:\n%s", want, page)
			}
		}
		if page := renderMan(t, filepath.Join(dir, "usr/share/man/man1/edgegw.1.gz")); !strings.Contains(page, "edgegw-doctor(1)") || !strings.Contains(page, "Jan 2026") || strings.Contains(page, "edgegw-ingest(1)") {
			t.Errorf("man edgegw names no edgegw-doctor(1), names edgegw-ingest(1) or is not dated by SOURCE_DATE_EPOCH:\n%s", page)
		}
		// bash completes a subcommand with the packaged script, which asks
		// the packaged binary (found on PATH, as /usr/bin/edgegw is).
		bashCompletion := "/usr/share/bash-completion/bash_completion"
		if _, err := os.Stat(bashCompletion); err != nil {
			if os.Getenv("EDGEGW_PACKAGING_TEST") == "1" {
				t.Fatalf("no %s (package bash-completion, which scripts/deps.sh installs)", bashCompletion)
			}
			t.Skipf("no %s: the completion script is not run", bashCompletion)
		}
		script := `source /usr/share/bash-completion/bash_completion
source "$1"
COMP_WORDS=(edgegw do)
COMP_CWORD=1
COMP_LINE="edgegw do"
COMP_POINT=${#COMP_LINE}
__start_edgegw
printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command("bash", "--norc", "-c", script, "bash", filepath.Join(dir, "usr/share/bash-completion/completions/edgegw"))
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(dir, "usr/bin")+":"+os.Getenv("PATH"))
		// compopt complains on stderr outside an interactive completion.
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != "doctor" {
			t.Errorf("bash completion of `edgegw do`: %q, %v; want doctor", out, err)
		}
		for _, f := range []string{"usr/share/zsh/vendor-completions/_edgegw", "usr/share/fish/vendor_completions.d/edgegw.fish"} {
			if text := read(t, filepath.Join(dir, f)); !strings.Contains(text, "edgegw __complete") && !strings.Contains(text, "__complete") {
				t.Errorf("%s does not ask edgegw __complete:\n%.300s", f, text)
			}
		}
	})

	t.Run("installed agent runs", func(t *testing.T) {
		root := newRoot(t)
		dpkgIn(t, root)("-i", deb)
		runAgent(t, root)
	})

	t.Run("dpkg install upgrade remove purge", func(t *testing.T) {
		root := newRoot(t)
		dpkg := dpkgIn(t, root)
		out := dpkg("-i", deb)
		if !strings.Contains(out, "edgegw keys init") {
			t.Errorf("first install prints no next steps:\n%s", out)
		}
		checkInstalled(t, root)
		for _, f := range []string{"usr/share/man/man1/edgegw.1.gz", "usr/share/bash-completion/completions/edgegw", "usr/share/doc/edgegw/copyright", "usr/share/doc/edgegw/examples/meter-panel.yaml"} {
			if _, err := os.Stat(filepath.Join(root, f)); err != nil {
				t.Errorf("installed package: %v", err)
			}
		}
		if st := sh(t, "dpkg", "--root="+root, "-s", "edgegw"); !strings.Contains(st, "Status: install ok installed") {
			t.Errorf("dpkg -s:\n%s", st)
		}

		// Reinstall over a commissioned box: the edited config and the
		// keys stay, accounts are not duplicated.
		conf := filepath.Join(root, "etc/edgegw/edgegw.yaml")
		key := filepath.Join(root, "var/lib/edgegw/keys/identity.key")
		write(t, conf, "edited\n")
		write(t, key, "key\n")
		if out := dpkg("-i", deb); strings.Contains(out, "edgegw keys init") {
			t.Errorf("upgrade prints the first-install steps:\n%s", out)
		}
		checkInstalled(t, root)
		if b, _ := os.ReadFile(conf); string(b) != "edited\n" {
			t.Errorf("reinstall replaced the edited conffile: %q", b)
		}

		dpkg("-r", "edgegw")
		if _, err := os.Stat(key); err != nil {
			t.Errorf("remove deleted the state: %v", err)
		}
		if _, err := os.Stat(filepath.Join(root, "usr/bin/edgegw")); !os.IsNotExist(err) {
			t.Errorf("remove left /usr/bin/edgegw: %v", err)
		}
		dpkg("-P", "edgegw")
		for _, p := range []string{"var/lib/edgegw", "etc/edgegw"} {
			if _, err := os.Stat(filepath.Join(root, p)); !os.IsNotExist(err) {
				t.Errorf("purge left %s: %v", p, err)
			}
		}
		if !strings.Contains(read(t, filepath.Join(root, "etc/passwd")), "edgegw:") {
			t.Error("purge removed the edgegw account; it is kept on purpose")
		}
	})
}

// debWant is what a package must hold.
type debWant struct {
	name        string   // Package
	other       string   // the package it conflicts with and replaces
	unit        string   // its systemd unit's name
	conffile    string   // its only conffile
	examples    string   // glob of the repository's examples it carries
	description string   // start of its Description
	suggests    string   // Suggests
	man         []string // some man pages it has (edgegw-keys, ...)
	noMan       []string // prefixes of man pages it must not have
}

// checkDeb checks the fields, control files and contents of the package
// deb, built with TestIntegrationDeb's version, maintainer and time.
func checkDeb(t *testing.T, deb string, w debWant) {
	t.Run("metadata", func(t *testing.T) {
		for field, want := range map[string]string{
			"Package":      w.name,
			"Version":      "1.2.3~rc1",
			"Architecture": "amd64",
			"Maintainer":   "Test <test@example.net>",
			"Depends":      "passwd",
			"Recommends":   "systemd",
			"Suggests":     w.suggests,
			"Conflicts":    w.other,
			"Replaces":     w.other,
			"Section":      "net",
			"Priority":     "optional",
		} {
			if got := strings.TrimSpace(sh(t, "dpkg-deb", "--field", deb, field)); got != want {
				t.Errorf("%s: %q, want %q", field, got, want)
			}
		}
		desc := sh(t, "dpkg-deb", "--field", deb, "Description")
		if !strings.HasPrefix(desc, w.description) || !strings.Contains(desc, "/usr/share/doc/"+w.name+"/operations.md") {
			t.Errorf("Description:\n%s", desc)
		}
		info := sh(t, "dpkg-deb", "-I", deb)
		for _, s := range []string{"conffiles", "postinst", "prerm", "postrm", "md5sums"} {
			if !strings.Contains(info, s) {
				t.Errorf("dpkg-deb -I lists no %s:\n%s", s, info)
			}
		}
		if got := sh(t, "dpkg-deb", "-I", deb, "conffiles"); got != w.conffile+"\n" {
			t.Errorf("conffiles = %q, want only %s", got, w.conffile)
		}
	})

	t.Run("contents", func(t *testing.T) {
		doc := "./usr/share/doc/" + w.name + "/"
		want := map[string]string{ // path → mode and owner
			"./usr/bin/edgegw":                                  "-rwxr-xr-x root/root",
			"./lib/systemd/system/" + w.unit:                    "-rw-r--r-- root/root",
			"." + filepath.Dir(w.conffile) + "/":                "drwxr-xr-x root/root",
			"." + w.conffile:                                    "-rw-r--r-- root/root",
			doc + "README.md":                                   "-rw-r--r-- root/root",
			doc + "copyright":                                   "-rw-r--r-- root/root",
			"./usr/share/bash-completion/completions/edgegw":    "-rw-r--r-- root/root",
			"./usr/share/zsh/vendor-completions/_edgegw":        "-rw-r--r-- root/root",
			"./usr/share/fish/vendor_completions.d/edgegw.fish": "-rw-r--r-- root/root",
		}
		for _, m := range w.man {
			want["./usr/share/man/man1/"+m+".1.gz"] = "-rw-r--r-- root/root"
		}
		// Every document and every example configuration of the repository.
		for glob, dest := range map[string]string{"docs/*.md": doc, w.examples: doc + "examples/"} {
			files, err := filepath.Glob(filepath.Join(repoRoot(t), glob))
			if err != nil || len(files) == 0 {
				t.Fatalf("%s: %v, %v", glob, files, err)
			}
			for _, f := range files {
				want[dest+filepath.Base(f)] = "-rw-r--r-- root/root"
			}
		}
		// The man pages beyond those named: one per command.
		manPages := 0
		sc := bufio.NewScanner(strings.NewReader(sh(t, "dpkg-deb", "-c", deb)))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 6 {
				t.Fatalf("dpkg-deb -c line %q", sc.Text())
			}
			path, mode := f[5], f[0]+" "+f[1]
			if f[3] != "2026-01-02" {
				t.Errorf("%s: date %s, want SOURCE_DATE 2026-01-02", path, f[3])
			}
			isMan := strings.HasPrefix(path, "./usr/share/man/man1/edgegw") && strings.HasSuffix(path, ".1.gz")
			if isMan {
				manPages++
				for _, no := range w.noMan {
					if name := strings.TrimPrefix(path, "./usr/share/man/man1/"); name == no+".1.gz" || strings.HasPrefix(name, no+"-") {
						t.Errorf("%s: a man page of a command %s does not have", path, w.name)
					}
				}
			}
			m, named := want[path]
			delete(want, path)
			switch {
			case named || isMan:
				if !named {
					m = "-rw-r--r-- root/root"
				}
				if mode != m {
					t.Errorf("%s: %s, want %s", path, mode, m)
				}
			case !strings.HasSuffix(path, "/"):
				t.Errorf("unexpected file %s", path)
			case mode != "drwxr-xr-x root/root":
				t.Errorf("%s: %s", path, mode)
			}
		}
		for p := range want {
			t.Errorf("missing %s", p)
		}
		if manPages < 20 {
			t.Errorf("%d man pages, want one per command (more than 20)", manPages)
		}
	})
}

// TestIntegrationInstallScript: scripts/install.sh installs a box like the
// package edgegw does, with man pages when the binary can make them (a full
// build), and says so when it cannot (the production build).
func TestIntegrationInstallScript(t *testing.T) {
	needPackagingTools(t)
	bin := edgegwBinary(t, fullBuild)
	root := newRoot(t)
	script := filepath.Join(repoRoot(t), "scripts/install.sh")
	sh(t, "bash", "-n", script)
	out := sh(t, "bash", script, "--root", root, "--binary", bin)
	if !strings.Contains(out, "edgegw keys init") {
		t.Errorf("first install prints no next steps:\n%s", out)
	}
	checkInstalled(t, root)
	for path, mode := range map[string]os.FileMode{
		"usr/bin/edgegw":                                  0o755,
		"lib/systemd/system/edgegw.service":               0o644,
		"etc/edgegw/edgegw.yaml":                          0o644,
		"usr/share/doc/edgegw/operations.md":              0o644,
		"usr/share/doc/edgegw/envelope.md":                0o644,
		"usr/share/doc/edgegw/README.md":                  0o644,
		"usr/share/doc/edgegw/copyright":                  0o644,
		"usr/share/doc/edgegw/examples/pi-junction.yaml":  0o644,
		"usr/share/doc/edgegw/examples/meter-panel.yaml":  0o644,
		"usr/share/doc/edgegw/examples/demo.yaml":         0o644,
		"usr/share/man/man1/edgegw-doctor.1.gz":           0o644,
		"usr/share/bash-completion/completions/edgegw":    0o644,
		"usr/share/zsh/vendor-completions/_edgegw":        0o644,
		"usr/share/fish/vendor_completions.d/edgegw.fish": 0o644,
	} {
		fi, err := os.Stat(filepath.Join(root, path))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, %v; want %v", path, fi, err, mode)
		}
	}

	// Again, over an edited config: kept, and accounts not duplicated.
	conf := filepath.Join(root, "etc/edgegw/edgegw.yaml")
	write(t, conf, "edited\n")
	out = sh(t, "bash", script, "--prefix="+root, "--binary", bin)
	if !strings.Contains(out, "keeping the existing") || strings.Contains(out, "edgegw keys init") {
		t.Errorf("second run:\n%s", out)
	}
	if got := read(t, conf); got != "edited\n" {
		t.Errorf("install.sh overwrote the config: %q", got)
	}
	checkInstalled(t, root)

	// The production build installs the same, but for the man pages and
	// completions, which it cannot generate.
	prodRoot := newRoot(t)
	out = sh(t, "bash", script, "--root", prodRoot, "--binary", edgegwBinary(t, prodBuild))
	if !strings.Contains(out, "edgegw keys init") || !strings.Contains(out, "no man pages or shell completions") {
		t.Errorf("install of the production build:\n%s", out)
	}
	checkInstalled(t, prodRoot)
	if _, err := os.Stat(filepath.Join(prodRoot, "usr/share/man/man1")); !os.IsNotExist(err) {
		t.Errorf("man pages of the production build: %v", err)
	}

	// Bad arguments fail.
	for _, args := range [][]string{{"--bogus"}, {"--root", root, "--binary", "/nonexistent"}, {"--root", "/nonexistent", "--binary", bin}} {
		cmd := exec.Command("bash", append([]string{script}, args...)...)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("install.sh %v succeeded:\n%s", args, out)
		}
	}
}

// extract unpacks deb, its control files under DEBIAN/, into a temp dir,
// and checks its maintainer scripts.
func extract(t *testing.T, deb string) string {
	t.Helper()
	dir := t.TempDir()
	sh(t, "dpkg-deb", "-e", deb, filepath.Join(dir, "DEBIAN"))
	sh(t, "dpkg-deb", "-x", deb, dir)
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		p := filepath.Join(dir, "DEBIAN", s)
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v, %v; want mode 0755", s, fi, err)
		}
		sh(t, "sh", "-n", p)
		if _, err := exec.LookPath("shellcheck"); err == nil {
			sh(t, "shellcheck", "-s", "sh", p)
		}
	}
	return dir
}

// dpkgIn returns a function running dpkg on the throwaway root, as
// `dpkg --root` with the maintainer scripts run outside a chroot.
func dpkgIn(t *testing.T, root string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		return sh(t, "dpkg", append([]string{"--root=" + root, "--force-script-chrootless",
			"--force-depends", "--force-confdef", "--force-confold", "--log=/dev/null"}, args...)...)
	}
}

// renderMan formats a gzipped man page as man(1) shows it, with man -l or,
// without man, with groff.
func renderMan(t *testing.T, page string) string {
	t.Helper()
	if _, err := exec.LookPath("man"); err == nil {
		cmd := exec.Command("man", "-l", page)
		cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=100")
		return run(t, cmd)
	}
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("neither man nor groff: the man page is not rendered")
	}
	return run(t, exec.Command("sh", "-c", `gzip -dc "$1" | groff -man -Tutf8`, "sh", page))
}

// checkInstalled checks the accounts and directories postinst makes.
func checkInstalled(t *testing.T, root string) {
	t.Helper()
	passwd := read(t, filepath.Join(root, "etc/passwd"))
	group := read(t, filepath.Join(root, "etc/group"))
	if n := strings.Count(passwd, "\nedgegw:"); n != 1 {
		t.Errorf("%d edgegw accounts in passwd:\n%s", n, passwd)
	}
	var uid, gid string
	for _, l := range strings.Split(passwd, "\n") {
		if f := strings.Split(l, ":"); f[0] == "edgegw" {
			uid, gid = f[2], f[3]
			if f[5] != "/var/lib/edgegw" || f[6] != "/usr/sbin/nologin" {
				t.Errorf("edgegw account: %s", l)
			}
			if len(uid) == 0 || uid == "0" {
				t.Errorf("edgegw uid %q", uid)
			}
		}
	}
	members := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(group), "\n") {
		f := strings.Split(l, ":")
		if _, dup := members[f[0]]; dup {
			t.Errorf("group %s twice", f[0])
		}
		members[f[0]] = f[3]
		if f[0] == "edgegw" && f[2] != gid {
			t.Errorf("edgegw's primary gid %s is not group edgegw's %s", gid, f[2])
		}
	}
	for _, g := range []string{"edgegw", "edgegw-tech", "edgegw-admin"} {
		if _, ok := members[g]; !ok {
			t.Errorf("no group %s", g)
		}
	}
	for _, g := range []string{"i2c", "spi", "gpio", "dialout"} {
		if !slices.Contains(strings.Split(members[g], ","), "edgegw") {
			t.Errorf("edgegw not in group %s (%q)", g, members[g])
		}
	}
	if members["i2c"] != "pi,edgegw" {
		t.Errorf("i2c members %q, want pi,edgegw", members["i2c"])
	}
	for d, mode := range map[string]string{"var/lib/edgegw": "750", "var/lib/edgegw/keys": "700"} {
		out := sh(t, "stat", "-c", "%a %u %g %F", filepath.Join(root, d))
		if want := mode + " " + uid + " " + gid + " directory\n"; out != want {
			t.Errorf("%s: %q, want %q", d, out, want)
		}
	}
}

// checkUnit checks the unit's ExecStart and runs systemd-analyze on it,
// if available: it must verify (with ExecStart pointed at the real binary)
// and its exposure must stay at 2.0 or below ("OK").
func checkUnit(t *testing.T, unit, bin, execStart string) {
	t.Helper()
	text := read(t, unit)
	if !strings.Contains(text, "\nExecStart="+execStart+"\n") {
		t.Errorf("unit ExecStart is not %s:\n%s", execStart, text)
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		if os.Getenv("EDGEGW_PACKAGING_TEST") == "1" {
			t.Fatal("no systemd-analyze (package systemd, which scripts/deps.sh installs)")
		}
		t.Log("no systemd-analyze: unit not verified")
		return
	}
	tmp := filepath.Join(t.TempDir(), filepath.Base(unit))
	write(t, tmp, strings.Replace(text, "ExecStart=/usr/bin/edgegw", "ExecStart="+bin, 1))
	sh(t, "systemd-analyze", "verify", "--man=no", tmp)
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold=20", tmp).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 2.0 (%v):\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "Overall exposure level") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	must.NoError(t, err)
	return string(b)
}

func write(t *testing.T, p, s string) {
	t.Helper()
	must.NoError(t, os.WriteFile(p, []byte(s), 0o644))
}

// checkUnknown fails t unless bin refuses each of cmds as an unknown
// command, with exit code 2: the build packaged does not carry them.
func checkUnknown(t *testing.T, bin string, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		out, err := exec.Command(bin, c, "--help").CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), `unknown command "`+c+`"`) {
			t.Errorf("packaged edgegw %s: %v, %q; want exit 2, unknown command", c, err, out)
		}
	}
}

// checkSameFiles fails t unless each file of the package extracted in dir
// (a path relative to dir) is the same as its source: a path in the
// repository, or an absolute path.
func checkSameFiles(t *testing.T, dir string, sources map[string]string) {
	t.Helper()
	for pkg, src := range sources {
		if !filepath.IsAbs(src) {
			src = filepath.Join(repoRoot(t), src)
		}
		a, err1 := os.ReadFile(filepath.Join(dir, pkg))
		b, err2 := os.ReadFile(src)
		if err1 != nil || err2 != nil || string(a) != string(b) {
			t.Errorf("%s differs from %s (%v, %v)", pkg, src, err1, err2)
		}
	}
}
