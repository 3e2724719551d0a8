package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/internal/must"

	"github.com/spf13/cobra"
)

// execute runs the command line args and returns its output and exit code.
func execute(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return executeOn(newRoot(), args...)
}

// executeOn runs the command line args on root and returns its output (with
// the error appended) and the exit code main would use.
func executeOn(root *cobra.Command, args ...string) (string, int) {
	var out bytes.Buffer
	code := run(root, &out, &out, args...)
	return out.String(), code
}

// executeSplit runs the command line args on root and returns its standard
// output, its standard error (with the error appended) and the exit code main
// would use.
func executeSplit(root *cobra.Command, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = run(root, &out, &errOut, args...)
	return out.String(), errOut.String(), code
}

// run runs the command line args on root, writing its standard output to
// stdout and its standard error, with the error appended, to stderr, and
// returns the exit code main would use.
func run(root *cobra.Command, stdout, stderr *bytes.Buffer, args ...string) int {
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err != nil {
		stderr.WriteString("error: " + err.Error())
	}
	return exitCode(err)
}

// addMissing adds to parent each of subs it does not hold yet: a test needs
// commands that the tree of the build it runs in may or may not carry.
func addMissing(parent *cobra.Command, subs ...*cobra.Command) {
	for _, sub := range subs {
		if c, _, err := parent.Find([]string{sub.Name()}); err != nil || c == parent {
			parent.AddCommand(sub)
		}
	}
}

// attach adds to root's command parent each of subs it does not hold yet.
func attach(root *cobra.Command, parent string, subs ...*cobra.Command) {
	for _, p := range root.Commands() {
		if p.Name() == parent {
			addMissing(p, subs...)
		}
	}
}

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	must.NoError(t, os.WriteFile(bad, []byte("gateway:\n  id: gw-001\n  colour: red\n"), 0o600))
	tests := []commandCase{
		{"version", []string{"version"}, 0, []string{"edgegw dev linux/"}},
		{"unknown command", []string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`}},
		{"unknown flag", []string{"run", "--colour", "red"}, 2, []string{"unknown flag: --colour"}},
		{"extra argument", []string{"version", "now"}, 2, []string{"accepts 0 arg(s)"}},
		{"config validate ok", []string{"config", "validate", "../../configs/demo.yaml"}, 0, []string{"valid (gateway"}},
		{"config validate names line and field", []string{"config", "validate", bad}, 1, []string{"bad.yaml:3: gateway.colour: unknown field"}},
		{"config validate without file", []string{"config", "validate"}, 2, []string{"accepts 1 arg(s)"}},
		{"keys init needs id", []string{"keys", "init", "--dir", dir}, 2, []string{"--id is required"}},
		{"keys recipient bad suite", []string{"keys", "recipient", "--dir", dir, "--suite", "rot13"}, 2, []string{"rot13"}},
		{"open needs keys", []string{"open", "--broker", "ssl://127.0.0.1:1"}, 2, []string{"--trust and --recipient-key are required"}},
		{"demo too short", []string{"demo", "--duration", "1s"}, 2, []string{"--duration must be at least 10s"}},
		{"run missing config", []string{"run", "--config", filepath.Join(dir, "none.yaml")}, 1, []string{"none.yaml"}},
	}
	runCommands(t, execute, tests)
}

// commandCase is a command line and what it must do: exit with code, its
// output holding each of want.
type commandCase struct {
	name string
	args []string
	code int
	want []string
}

// runCommands runs each case with execute as a subtest.
func runCommands(t *testing.T, execute func(t *testing.T, args ...string) (string, int), cases []commandCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			out, code := execute(t, tt.args...)
			if code != tt.code {
				t.Errorf("edgegw %s: exit %d, want %d\n%s", strings.Join(tt.args, " "), code, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("edgegw %s: output lacks %q:\n%s", strings.Join(tt.args, " "), w, out)
				}
			}
		})
	}
}

func TestKeysCommands(t *testing.T) {
	dir := t.TempDir()
	if out, code := execute(t, "keys", "init", "--dir", dir, "--id", "gw-001"); code != 0 {
		t.Fatalf("keys init: %s", out)
	}
	pub, err := os.ReadFile(filepath.Join(dir, "identity.pub"))
	if err != nil || !strings.HasPrefix(string(pub), "edgegw-ed25519 ") || !strings.HasSuffix(strings.TrimSpace(string(pub)), " gw-001") {
		t.Fatalf("identity.pub = %q, %v", pub, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "identity.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity.key: %v, %v", fi, err)
	}
	if out, code := execute(t, "keys", "init", "--dir", dir, "--id", "gw-001"); code != 1 || !strings.Contains(out, "identity.key") {
		t.Errorf("second keys init: exit %d, %q; want a refusal naming identity.key", code, out)
	}
	if out, code := execute(t, "keys", "init", "--dir", dir, "--id", "gw-001", "--force"); code != 0 {
		t.Errorf("keys init --force: %s", out)
	}
	for _, suite := range []string{"x25519", "mlkem768x25519"} {
		sub := filepath.Join(dir, suite)
		if out, code := execute(t, "keys", "recipient", "--dir", sub, "--suite", suite); code != 0 {
			t.Fatalf("keys recipient --suite %s: %s", suite, out)
		}
		pub, err := os.ReadFile(filepath.Join(sub, "recipient.pub"))
		if err != nil || !strings.HasPrefix(string(pub), "edgegw-hpke-"+suite+" ") {
			t.Errorf("recipient.pub = %q, %v", pub, err)
		}
	}
}

func TestSelftest(t *testing.T) {
	out, code := execute(t, "selftest")
	if code != 0 || strings.Count(out, "pass  ") != 5 || strings.Contains(out, "fail") {
		t.Errorf("selftest: exit %d\n%s", code, out)
	}
}
