// Command mkdeb builds one of edgegw's two .deb packages for one
// architecture from a static edgegw binary, with the nfpm packaging library:
//
//	go run ./scripts/mkdeb --package edgegw --arch arm64 --binary dist/edgegw-prod-linux-arm64 \
//		--generator dist/edgegw-gendocs --version 1.2.0 --out dist/
//	go run ./scripts/mkdeb --package edgegw-backend --arch amd64 --binary dist/edgegw-linux-amd64 \
//		--generator dist/edgegw --version 1.2.0 --out dist/
//
// It is run from the repository root (or given --repo). The package edgegw,
// for a junction box (amd64, arm64, armhf, armel), holds the production
// build (tag nodemo), the unit edgegw.service and /etc/edgegw/edgegw.yaml
// (a conffile, from configs/pi-junction.yaml); the package edgegw-backend,
// for the city's servers (amd64, arm64), holds the backend's build (tags
// nodemo,backend: the production build plus `edgegw ingest`, `edgegw fleet`
// and `edgegw open`, still without the demo and emulators), the unit
// edgegw-ingest.service and /etc/edgegw-ingest/ingest.yaml (a conffile,
// from configs/backend/ingest.yaml). Both ship /usr/bin/edgegw, so each
// conflicts with and replaces the other: a host has one of them. Each holds
// the README and docs/*.md with a Debian copyright file under
// /usr/share/doc/PACKAGE, its example configurations under its examples/,
// the man pages and bash, zsh and fish completions, and the maintainer
// scripts scripts/deb/{postinst,prerm,postrm}, which act on the package dpkg
// names.
//
// The man pages and completions are generated at build time by `edgegw
// gendocs` of --generator, a build for this machine with the packaged
// binary's build tags plus gendocs (the packaged builds have no gendocs;
// the full build has it without the tag), or of the binary itself when it
// has gendocs and runs here. Before packaging, mkdeb reads the build
// information of both and refuses a binary built for another architecture,
// with cgo, for an ARM level the Debian architecture does not promise, with
// build tags the package does not carry, or a generator built with other
// tags, Go or modules than the binary; where the binary runs here (natively
// or under qemu-user), it also checks that the man pages are exactly its
// commands and that it reports the generator's version.
package main

import (
	"bufio"
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
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// Opts says what to package.
type Opts struct {
	Package string // edgegw (the box) or edgegw-backend; edgegw when empty
	Arch    string // Debian architecture: amd64, arm64, armhf or armel
	Binary  string // the static edgegw binary
	// Generator is an edgegw build with `gendocs` that runs on this
	// machine, to generate the man pages and completions; by default
	// Binary, when it runs here and has gendocs.
	Generator  string
	Version    string // e.g. 1.2.0, v1.2.0-rc1, v1.2.0-3-gabcdef0-dirty
	Out        string // output directory
	Repo       string // repository root, holding scripts/, configs/, docs/
	Maintainer string
	MTime      time.Time // file and archive times (SOURCE_DATE_EPOCH)
	// Notes receives what mkdeb could not check (nothing when nil).
	Notes func(string)
}

// target is what a Debian architecture requires of a Go binary.
type target struct {
	goarch  string
	machine elf.Machine
	goarm   []string // accepted GOARM levels (arm only)
	qemu    string   // the qemu-user emulator that runs it on another machine
}

var targets = map[string]target{
	"amd64": {goarch: "amd64", machine: elf.EM_X86_64, qemu: "qemu-x86_64-static"},
	"arm64": {goarch: "arm64", machine: elf.EM_AARCH64, qemu: "qemu-aarch64-static"},
	// Debian armhf is ARMv7 with VFP. GOARM=6 also runs there, and is the
	// one that runs on every Raspberry Pi (Raspberry Pi OS's armhf includes
	// the ARMv6 Pi Zero and Pi 1, where a GOARM=7 binary dies with SIGILL).
	"armhf": {goarch: "arm", machine: elf.EM_ARM, goarm: []string{"6", "7"}, qemu: "qemu-arm-static"},
	// Debian armel is ARMv5 without a floating-point unit.
	"armel": {goarch: "arm", machine: elf.EM_ARM, goarm: []string{"5"}, qemu: "qemu-arm-static"},
}

// gendocsTag adds `edgegw gendocs` to a production build.
const gendocsTag = "gendocs"

// spec is what one package holds beyond what both do.
type spec struct {
	name        string
	arches      []string
	unit        string    // repository path of the systemd unit
	conf        [2]string // the conffile: repository path, installed path
	examples    string    // glob of the example configurations
	description string
	build       buildRule // the build the package carries
	// other is the package that also ships /usr/bin/edgegw.
	other     string
	suggests  []string
	recommend []string
}

var specs = map[string]spec{
	"edgegw": {
		name:     "edgegw",
		arches:   []string{"amd64", "arm64", "armhf", "armel"},
		unit:     "scripts/edgegw.service",
		conf:     [2]string{"configs/pi-junction.yaml", "/etc/edgegw/edgegw.yaml"},
		examples: "configs/*.yaml",
		description: "edge gateway agent for smart-city junction boxes\n" +
			"Polls air-quality sensors (I2C/SPI) and energy meters (Modbus RTU),\n" +
			"seals each poll to the backend's public key (HPKE), signs each batch\n" +
			"(Ed25519, COSE), buffers it in bbolt until the city's database has\n" +
			"stored it and forwards it over MQTT with mutual TLS. Listens on no\n" +
			"network port. The production build: no demo, no emulators, no backend\n" +
			"(package edgegw-backend). The service is not started until keys and\n" +
			"certificates exist: see /usr/share/doc/edgegw/operations.md.",
		build:     buildRule{what: "the production build", makeVar: "PRODTAGS", need: []string{"nodemo"}, refuse: []string{gendocsTag}},
		other:     "edgegw-backend",
		recommend: []string{"systemd"},
		suggests:  []string{"bash-completion"},
	},
	"edgegw-backend": {
		name:     "edgegw-backend",
		arches:   []string{"amd64", "arm64"},
		unit:     "scripts/edgegw-ingest.service",
		conf:     [2]string{"configs/backend/ingest.yaml", "/etc/edgegw-ingest/ingest.yaml"},
		examples: "configs/backend/*.yaml",
		description: "edgegw backend: stores what junction boxes send, signs receipts\n" +
			"The edgegw build for the city's servers: the service edgegw ingest\n" +
			"(edgegw-ingest.service) verifies and opens the gateways' signed and\n" +
			"sealed batches from the MQTT broker, commits them to SQLite or\n" +
			"PostgreSQL and publishes signed receipts; edgegw fleet shows every\n" +
			"gateway's state and edgegw open opens envelopes to JSON lines. The\n" +
			"service is not started until its keys and certificates exist: see\n" +
			"/usr/share/doc/edgegw-backend/operations.md.",
		build:     buildRule{what: "the backend's build", makeVar: "BACKENDTAGS", need: []string{"nodemo", "backend"}, refuse: []string{"nobackend", gendocsTag}},
		other:     "edgegw",
		recommend: []string{"systemd"},
		suggests:  []string{"bash-completion", "postgresql"},
	},
}

// buildRule says which build of edgegw a package carries: the tags it must
// have and those it must not.
type buildRule struct {
	what         string // such as "the production build"
	makeVar      string // the Makefile variable of its tags
	need, refuse []string
}

// check refuses tags, the build tags of a binary, unless they are the
// build's; pkg names the package in the error.
func (r buildRule) check(pkg string, tags []string) error {
	for _, t := range r.need {
		if !slices.Contains(tags, t) {
			return r.refused(pkg, tags)
		}
	}
	for _, t := range r.refuse {
		if slices.Contains(tags, t) {
			return r.refused(pkg, tags)
		}
	}
	return nil
}

func (r buildRule) refused(pkg string, tags []string) error {
	return fmt.Errorf("built with -tags %q: the package %s carries %s, with the tags %s and without %s (make deb: -tags $(%s))",
		strings.Join(tags, ","), pkg, r.what, strings.Join(r.need, ","), strings.Join(r.refuse, " or "), r.makeVar)
}

func main() {
	var o Opts
	flag.StringVar(&o.Package, "package", "edgegw", "package: edgegw (the junction box's production build) or edgegw-backend (the backend's build, for the city's servers)")
	flag.StringVar(&o.Arch, "arch", "", "Debian architecture: amd64, arm64, armhf (GOARM=6 or 7) or armel (GOARM=5)")
	flag.StringVar(&o.Binary, "binary", "", "static edgegw binary built for --arch")
	flag.StringVar(&o.Generator, "generator", "", "edgegw build for this machine with the binary's tags and gendocs, to generate man pages and completions (default: --binary, when it runs here and has gendocs)")
	flag.StringVar(&o.Version, "version", "", "package version; a leading v and git describe suffixes are turned into a Debian version")
	flag.StringVar(&o.Out, "out", "dist", "output directory")
	flag.StringVar(&o.Repo, "repo", ".", "repository root")
	flag.StringVar(&o.Maintainer, "maintainer", "edgegw maintainers <edgegw@example.net>", "Maintainer field")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: go run ./scripts/mkdeb [--package edgegw|edgegw-backend] --arch ARCH --binary FILE [--generator FILE] --version VERSION [--out DIR]")
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
	o.Notes = func(s string) { fmt.Fprintln(os.Stderr, "mkdeb:", s) }
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
	if o.Package == "" {
		o.Package = "edgegw"
	}
	sp, ok := specs[o.Package]
	if !ok {
		return "", fmt.Errorf("--package %q: want edgegw or edgegw-backend", o.Package)
	}
	t, ok := targets[o.Arch]
	if !ok || !slices.Contains(sp.arches, o.Arch) {
		return "", fmt.Errorf("--arch %q: the package %s is built for %s", o.Arch, sp.name, strings.Join(sp.arches, ", "))
	}
	if o.Notes == nil {
		o.Notes = func(string) {}
	}
	bin, err := checkBinary(o.Binary, t)
	if err != nil {
		return "", err
	}
	if err := sp.build.check(sp.name, buildTags(bin)); err != nil {
		return "", fmt.Errorf("--binary %s: %w", o.Binary, err)
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
	if err := generate(o, t, bin, gen); err != nil {
		return "", err
	}
	info, err := packageInfo(o, sp, version, gen)
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

// generate runs `edgegw gendocs` of o.Generator (default o.Binary) to write
// the man pages and completions under dir, dated o.MTime, after checking
// that the generator is a build of the binary's kind (checkGenerator) and,
// where the binary runs here, that the pages document exactly its commands
// (checkCommands).
func generate(o Opts, t target, bin *debug.BuildInfo, dir string) error {
	gen := o.Generator
	if gen == "" {
		if t.goarch != runtime.GOARCH {
			return fmt.Errorf("--binary %s is for %s, this machine is %s: give --generator, an edgegw build for this machine with the binary's tags and %s, to generate the man pages and completions", o.Binary, t.goarch, runtime.GOARCH, gendocsTag)
		}
		gen = o.Binary
	}
	if gen != o.Binary {
		if err := checkGenerator(gen, bin); err != nil {
			return err
		}
	}
	cmd := exec.Command(gen, "gendocs", "--root", dir)
	cmd.Env = append(os.Environ(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", o.MTime.Unix()))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s gendocs: %w: %s (the generator needs gendocs: give --generator, a build for this machine with -tags %s)", gen, err, strings.TrimSpace(string(out)), strings.Join(append(buildTags(bin), gendocsTag), ","))
	}
	run := runner(t, o.Binary)
	if run == nil {
		o.Notes(fmt.Sprintf("--binary %s does not run here (%s, and no %s): its commands are not compared with the man pages; the build information of --generator matches it", o.Binary, runtime.GOARCH, t.qemu))
		return nil
	}
	return checkCommands(run, gen, dir)
}

// runner returns the command line prefix that runs bin (built for t) on
// this machine: bin itself, or bin under qemu-user; nil when it cannot run.
func runner(t target, bin string) []string {
	if t.goarch == runtime.GOARCH {
		return []string{bin}
	}
	if qemu, err := exec.LookPath(t.qemu); err == nil {
		return []string{qemu, bin}
	}
	return nil
}

// checkGenerator refuses a generator that is not a build of the same module
// with the binary's tags (plus gendocs), Go and module versions: then its
// command tree, and so the man pages, could differ from the binary's.
func checkGenerator(path string, bin *debug.BuildInfo) error {
	gen, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--generator %s: no Go build information: %w", path, err)
	}
	want := buildTags(bin)
	got := slices.DeleteFunc(buildTags(gen), func(tag string) bool { return tag == gendocsTag && !slices.Contains(want, gendocsTag) })
	if !slices.Equal(got, want) {
		return fmt.Errorf("--generator %s: built with -tags %q, want the binary's %q plus %s: its commands would not be the binary's", path, strings.Join(buildTags(gen), ","), strings.Join(want, ","), gendocsTag)
	}
	if gen.Path != bin.Path || gen.Main.Path != bin.Main.Path || gen.Main.Version != bin.Main.Version || gen.GoVersion != bin.GoVersion {
		return fmt.Errorf("--generator %s: %s %s built by %s, but the binary is %s %s built by %s", path, gen.Path, gen.Main.Version, gen.GoVersion, bin.Path, bin.Main.Version, bin.GoVersion)
	}
	mods := map[string]string{}
	for _, m := range gen.Deps {
		mods[m.Path] = m.Version
	}
	for _, m := range bin.Deps {
		if v, ok := mods[m.Path]; ok && v != m.Version {
			return fmt.Errorf("--generator %s: module %s %s, the binary has %s", path, m.Path, v, m.Version)
		}
	}
	return nil
}

// checkCommands compares the commands of the binary (run runs it here) with
// the man pages under dir, and the binary's version with the generator's.
func checkCommands(run []string, gen, dir string) error {
	tree, err := commandTree(run)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, c := range tree {
		if c != "edgegw help" { // cobra's help command has no man page
			want[strings.ReplaceAll(c, " ", "-")+".1.gz"] = true
		}
	}
	pages, err := os.ReadDir(filepath.Join(dir, "usr/share/man/man1"))
	if err != nil {
		return fmt.Errorf("generated man pages: %w", err)
	}
	var extra []string
	for _, p := range pages {
		if !want[p.Name()] {
			extra = append(extra, p.Name())
		}
		delete(want, p.Name())
	}
	if len(extra) > 0 || len(want) > 0 {
		var missing []string
		for p := range want {
			missing = append(missing, p)
		}
		slices.Sort(missing)
		return fmt.Errorf("--generator %s documents other commands than --binary %s has: man pages of no command %v, commands without a man page %v", gen, run[len(run)-1], extra, missing)
	}
	binVersion, err := output(append(run, "version")...)
	if err != nil {
		return err
	}
	genVersion, err := output(gen, "version")
	if err != nil {
		return err
	}
	if b, g := strings.Fields(binVersion), strings.Fields(genVersion); len(b) < 2 || len(g) < 2 || b[1] != g[1] {
		return fmt.Errorf("--generator %s is %q, --binary %s is %q: the man pages would name another version", gen, strings.TrimSpace(genVersion), run[len(run)-1], strings.TrimSpace(binVersion))
	}
	return nil
}

// commandTree lists every command of an edgegw binary that `help` lists
// ("edgegw", "edgegw keys", "edgegw keys recipient", ...), hidden ones
// left out as in the man pages, by asking its help of each command.
func commandTree(run []string) ([]string, error) {
	tree := []string{"edgegw"}
	for i := 0; i < len(tree); i++ {
		path := strings.Fields(tree[i])[1:]
		out, err := output(slices.Concat(run, []string{"help"}, path)...)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(strings.NewReader(out))
		for listing := false; sc.Scan(); {
			line := sc.Text()
			switch {
			case line == "Available Commands:":
				listing = true
			case listing && strings.HasPrefix(line, "  "):
				tree = append(tree, tree[i]+" "+strings.Fields(line)[0])
			default:
				listing = false
			}
		}
	}
	return tree, nil
}

// output runs a command and returns its standard output.
func output(args ...string) (string, error) {
	out, err := exec.Command(args[0], args[1:]...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// buildTags returns the sorted build tags a binary was built with.
func buildTags(bi *debug.BuildInfo) []string {
	var tags []string
	for _, s := range bi.Settings {
		if s.Key == "-tags" {
			tags = strings.Split(s.Value, ",")
		}
	}
	slices.Sort(tags)
	return slices.Compact(tags)
}

// packageInfo describes package sp to nfpm; gen holds what generate wrote.
func packageInfo(o Opts, sp spec, version, gen string) (*nfpm.Info, error) {
	repo := func(p string) string { return filepath.Join(o.Repo, filepath.FromSlash(p)) }
	for _, p := range []string{sp.unit, sp.conf[0], "README.md", "docs/operations.md", "scripts/deb/copyright", "scripts/deb/postinst", "scripts/deb/prerm", "scripts/deb/postrm"} {
		if _, err := os.Stat(repo(p)); err != nil {
			return nil, fmt.Errorf("--repo %s: %w", o.Repo, err)
		}
	}
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, Type: files.TypeFile,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: o.MTime}}
	}
	doc := "/usr/share/doc/" + sp.name + "/"
	conf := file(repo(sp.conf[0]), sp.conf[1], 0o644)
	conf.Type = files.TypeConfig
	contents := files.Contents{
		file(o.Binary, "/usr/bin/edgegw", 0o755),
		file(repo(sp.unit), "/lib/systemd/system/"+filepath.Base(sp.unit), 0o644),
		{Destination: filepath.Dir(sp.conf[1]), Type: files.TypeDir,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: 0o755, MTime: o.MTime}},
		conf,
		file(repo("README.md"), doc+"README.md", 0o644),
		file(repo("scripts/deb/copyright"), doc+"copyright", 0o644),
	}
	// Every document and every example configuration.
	for _, glob := range []struct{ pattern, dest string }{{"docs/*.md", doc}, {sp.examples, doc + "examples/"}} {
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
		Name:          sp.name,
		Arch:          o.Arch,
		Platform:      "linux",
		Version:       version,
		VersionSchema: "none",
		Section:       "net",
		Priority:      "optional",
		Maintainer:    o.Maintainer,
		Description:   sp.description,
		Homepage:      "https://github.com/edgegw/edgegw",
		MTime:         o.MTime,
		Overridables: nfpm.Overridables{
			// The binary is static; postinst needs useradd, groupadd and
			// usermod with --prefix (shadow ≥ 4.6), which passwd provides.
			Depends:    []string{"passwd"},
			Recommends: sp.recommend,
			// bash-completion loads the completion script in
			// /usr/share/bash-completion.
			Suggests: sp.suggests,
			// Both packages ship /usr/bin/edgegw: a host has one of them,
			// and installing one removes the other.
			Conflicts: []string{sp.other},
			Replaces:  []string{sp.other},
			Contents:  contents,
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

// checkBinary refuses a binary that is not a static linux build for t, and
// returns its build information.
func checkBinary(path string, t target) (*debug.BuildInfo, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--binary %s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != t.machine {
		return nil, fmt.Errorf("--binary %s: built for %v, want %v", path, f.Machine, t.machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("--binary %s: dynamically linked, want a static build (CGO_ENABLED=0)", path)
		}
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--binary %s: no Go build information: %w", path, err)
	}
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	if set["GOOS"] != "linux" || set["GOARCH"] != t.goarch {
		return nil, fmt.Errorf("--binary %s: built for %s/%s, want linux/%s", path, set["GOOS"], set["GOARCH"], t.goarch)
	}
	if set["CGO_ENABLED"] != "0" {
		return nil, fmt.Errorf("--binary %s: built with CGO_ENABLED=%q, want 0", path, set["CGO_ENABLED"])
	}
	if t.goarm != nil {
		level, _, _ := strings.Cut(set["GOARM"], ",") // "7", "6,softfloat"
		if !slices.Contains(t.goarm, level) {
			return nil, fmt.Errorf("--binary %s: built with GOARM=%s, want one of %s", path, set["GOARM"], strings.Join(t.goarm, ", "))
		}
	}
	return bi, nil
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
