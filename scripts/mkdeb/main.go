// Command mkdeb builds the edgegw .deb package for one architecture from a
// static edgegw binary, with the nfpm packaging library:
//
//	go run ./scripts/mkdeb --arch arm64 --binary dist/edgegw-linux-arm64 --version 1.2.0 --out dist/
//
// It is run from the repository root (or given --repo). The package holds
// /usr/bin/edgegw, the systemd unit, /etc/edgegw/edgegw.yaml (a conffile,
// from configs/pi-junction.yaml), the README and docs/*.md with a Debian
// copyright file under /usr/share/doc/edgegw and every configs/*.yaml under
// its examples/, and the man pages and bash, zsh and fish completions, which
// `edgegw gendocs` generates at build time from the command tree of the
// binary packaged (run through --generator, a full build of the same source
// for this machine, when the package is for another architecture); its
// maintainer scripts are scripts/deb/{postinst,prerm,postrm}. Before packaging, mkdeb
// reads the binary's build information and refuses one built for another
// architecture, with cgo, or for an ARM level the Debian architecture does
// not promise.
package main

import (
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// Opts says what to package.
type Opts struct {
	Arch   string // Debian architecture: amd64, arm64, armhf or armel
	Binary string // the static edgegw binary
	// Generator is an edgegw full build (with `gendocs`) that runs on this
	// machine, to generate the man pages and completions; by default
	// Binary, when it is built for this machine's architecture.
	Generator  string
	Version    string // e.g. 1.2.0, v1.2.0-rc1, v1.2.0-3-gabcdef0-dirty
	Out        string // output directory
	Repo       string // repository root, holding scripts/, configs/, docs/
	Maintainer string
	MTime      time.Time // file and archive times (SOURCE_DATE_EPOCH)
}

// target is what a Debian architecture requires of a Go binary.
type target struct {
	goarch  string
	machine elf.Machine
	goarm   []string // accepted GOARM levels (arm only)
}

var targets = map[string]target{
	"amd64": {goarch: "amd64", machine: elf.EM_X86_64},
	"arm64": {goarch: "arm64", machine: elf.EM_AARCH64},
	// Debian armhf is ARMv7 with VFP. GOARM=6 also runs there, and is the
	// one that runs on every Raspberry Pi (Raspberry Pi OS's armhf includes
	// the ARMv6 Pi Zero and Pi 1, where a GOARM=7 binary dies with SIGILL).
	"armhf": {goarch: "arm", machine: elf.EM_ARM, goarm: []string{"6", "7"}},
	// Debian armel is ARMv5 without a floating-point unit.
	"armel": {goarch: "arm", machine: elf.EM_ARM, goarm: []string{"5"}},
}

func main() {
	var o Opts
	flag.StringVar(&o.Arch, "arch", "", "Debian architecture: amd64, arm64, armhf (GOARM=6 or 7) or armel (GOARM=5)")
	flag.StringVar(&o.Binary, "binary", "", "static edgegw binary built for --arch")
	flag.StringVar(&o.Generator, "generator", "", "edgegw full build that runs here, to generate man pages and completions (default: --binary, when built for this machine)")
	flag.StringVar(&o.Version, "version", "", "package version; a leading v and git describe suffixes are turned into a Debian version")
	flag.StringVar(&o.Out, "out", "dist", "output directory")
	flag.StringVar(&o.Repo, "repo", ".", "repository root")
	flag.StringVar(&o.Maintainer, "maintainer", "edgegw maintainers <edgegw@example.net>", "Maintainer field")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: go run ./scripts/mkdeb --arch ARCH --binary FILE --version VERSION [--out DIR]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if o.Arch == "" || o.Binary == "" || o.Version == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	mtime, err := sourceDateEpoch()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(2)
	}
	o.MTime = mtime
	path, err := Build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

// sourceDateEpoch is the time in SOURCE_DATE_EPOCH (reproducible builds),
// or now.
func sourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// Build writes the package into o.Out and returns its path.
func Build(o Opts) (string, error) {
	t, ok := targets[o.Arch]
	if !ok {
		return "", fmt.Errorf("--arch %q: want amd64, arm64, armhf or armel", o.Arch)
	}
	if err := checkBinary(o.Binary, t); err != nil {
		return "", err
	}
	version, err := DebVersion(o.Version)
	if err != nil {
		return "", err
	}
	if o.MTime.IsZero() {
		o.MTime = time.Now().UTC().Truncate(time.Second)
	}
	gen, err := os.MkdirTemp("", "mkdeb-gendocs-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(gen)
	if err := generate(o, t, gen); err != nil {
		return "", err
	}
	info, err := packageInfo(o, version, gen)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(o.Out, deb.Default.ConventionalFileName(info))
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	err = deb.Default.Package(info, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("package %s: %w", path, err)
	}
	return path, os.Rename(tmp, path)
}

// generate runs `edgegw gendocs` of o.Generator (default o.Binary, when it
// runs here) to write the man pages and completions under dir, dated
// o.MTime.
func generate(o Opts, t target, dir string) error {
	gen := o.Generator
	if gen == "" {
		if t.goarch != runtime.GOARCH {
			return fmt.Errorf("--binary %s is for %s, this machine is %s: give --generator, an edgegw full build for this machine, to generate the man pages and completions", o.Binary, t.goarch, runtime.GOARCH)
		}
		gen = o.Binary
	}
	cmd := exec.Command(gen, "gendocs", "--root", dir)
	cmd.Env = append(os.Environ(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", o.MTime.Unix()))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("--generator %s gendocs (a full build, without the nodemo or nobackend tag, is needed): %w: %s", gen, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// packageInfo describes the package to nfpm; gen holds what generate wrote.
func packageInfo(o Opts, version, gen string) (*nfpm.Info, error) {
	repo := func(p string) string { return filepath.Join(o.Repo, filepath.FromSlash(p)) }
	for _, p := range []string{"scripts/edgegw.service", "configs/pi-junction.yaml", "README.md", "docs/operations.md", "scripts/deb/copyright", "scripts/deb/postinst", "scripts/deb/prerm", "scripts/deb/postrm"} {
		if _, err := os.Stat(repo(p)); err != nil {
			return nil, fmt.Errorf("--repo %s: %w", o.Repo, err)
		}
	}
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, Type: files.TypeFile,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: o.MTime}}
	}
	conf := file(repo("configs/pi-junction.yaml"), "/etc/edgegw/edgegw.yaml", 0o644)
	conf.Type = files.TypeConfig
	contents := files.Contents{
		file(o.Binary, "/usr/bin/edgegw", 0o755),
		file(repo("scripts/edgegw.service"), "/lib/systemd/system/edgegw.service", 0o644),
		{Destination: "/etc/edgegw", Type: files.TypeDir,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: 0o755, MTime: o.MTime}},
		conf,
		file(repo("README.md"), "/usr/share/doc/edgegw/README.md", 0o644),
		file(repo("scripts/deb/copyright"), "/usr/share/doc/edgegw/copyright", 0o644),
	}
	// Every document and every example configuration.
	for _, glob := range []struct{ pattern, dest string }{{"docs/*.md", "/usr/share/doc/edgegw/"}, {"configs/*.yaml", "/usr/share/doc/edgegw/examples/"}} {
		matches, err := filepath.Glob(repo(glob.pattern))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			contents = append(contents, file(m, glob.dest+filepath.Base(m), 0o644))
		}
	}
	// The man pages and completions, at the places gendocs gave them.
	err := filepath.WalkDir(gen, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(gen, path)
		if err != nil {
			return err
		}
		contents = append(contents, file(path, "/"+filepath.ToSlash(rel), 0o644))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("generated files: %w", err)
	}
	info := &nfpm.Info{
		Name:          "edgegw",
		Arch:          o.Arch,
		Platform:      "linux",
		Version:       version,
		VersionSchema: "none",
		Section:       "net",
		Priority:      "optional",
		Maintainer:    o.Maintainer,
		Description: "edge gateway agent for smart-city junction boxes\n" +
			"Polls air-quality sensors (I2C/SPI) and energy meters (Modbus RTU),\n" +
			"seals each poll to the backend's public key (HPKE), signs each batch\n" +
			"(Ed25519, COSE), buffers it in bbolt until the MQTT broker has\n" +
			"acknowledged it and forwards it over mutual TLS. Listens on no network\n" +
			"port. The service is not started until keys and certificates exist:\n" +
			"see /usr/share/doc/edgegw/operations.md.",
		Homepage: "https://github.com/edgegw/edgegw",
		MTime:    o.MTime,
		Overridables: nfpm.Overridables{
			// The binary is static; postinst needs useradd, groupadd and
			// usermod with --prefix (shadow ≥ 4.6), which passwd provides.
			Depends:    []string{"passwd"},
			Recommends: []string{"systemd"},
			// Loads the completion script in /usr/share/bash-completion.
			Suggests: []string{"bash-completion"},
			Contents: contents,
			Scripts: nfpm.Scripts{
				PostInstall: repo("scripts/deb/postinst"),
				PreRemove:   repo("scripts/deb/prerm"),
				PostRemove:  repo("scripts/deb/postrm"),
			},
			Deb: nfpm.Deb{Compression: "xz"},
		},
	}
	return nfpm.WithDefaults(info), nil
}

// checkBinary refuses a binary that is not a static linux build for t.
func checkBinary(path string, t target) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("--binary %s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != t.machine {
		return fmt.Errorf("--binary %s: built for %v, want %v", path, f.Machine, t.machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("--binary %s: dynamically linked, want a static build (CGO_ENABLED=0)", path)
		}
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--binary %s: no Go build information: %w", path, err)
	}
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	if set["GOOS"] != "linux" || set["GOARCH"] != t.goarch {
		return fmt.Errorf("--binary %s: built for %s/%s, want linux/%s", path, set["GOOS"], set["GOARCH"], t.goarch)
	}
	if set["CGO_ENABLED"] != "0" {
		return fmt.Errorf("--binary %s: built with CGO_ENABLED=%q, want 0", path, set["CGO_ENABLED"])
	}
	if t.goarm != nil {
		level, _, _ := strings.Cut(set["GOARM"], ",") // "7", "6,softfloat"
		if !contains(t.goarm, level) {
			return fmt.Errorf("--binary %s: built with GOARM=%s, want one of %s", path, set["GOARM"], strings.Join(t.goarm, ", "))
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var (
	semverRe = regexp.MustCompile(`^v?([0-9]+(?:\.[0-9]+)*)(?:-(.+))?$`)
	debVerRe = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)
	preRe    = regexp.MustCompile(`^(?i)(alpha|beta|rc|pre)`)
)

// DebVersion turns a release or `git describe` version into a Debian
// upstream version that sorts the same way: v1.2.0 → 1.2.0,
// v1.2.0-rc1 → 1.2.0~rc1 (before 1.2.0), v1.2.0-3-gabcdef0-dirty →
// 1.2.0+3.gabcdef0.dirty (after it), and a bare commit abcdef0 →
// 0~gabcdef0 (before any release).
func DebVersion(v string) (string, error) {
	if v == "" {
		return "", errors.New("--version is empty")
	}
	var out string
	if m := semverRe.FindStringSubmatch(v); m != nil {
		out = m[1]
		if suffix := strings.ReplaceAll(m[2], "-", "."); suffix != "" {
			if preRe.MatchString(suffix) {
				out += "~" + suffix
			} else {
				out += "+" + suffix
			}
		}
	} else {
		out = "0~g" + strings.ReplaceAll(v, "-", ".")
	}
	if !debVerRe.MatchString(out) {
		return "", fmt.Errorf("--version %q: cannot make a Debian version of it (got %q)", v, out)
	}
	return out, nil
}
